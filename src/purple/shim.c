/*
 * The C shim of purple-otr: only what Rust cannot (or should not) express itself.
 * Declared in include/purple_otr.h; compiled by build.rs with the `cc` crate.
 */
#include "purple_otr.h"

/* The plugin's debug category, as shown in Pidgin's Help -> Debug Window. */
#define PURPLE_OTR_DEBUG_CATEGORY "purple-otr"

void purple_otr_debug(PurpleDebugLevel level, const char *line)
{
	/* The line is data, never a format string. */
	purple_debug(level, PURPLE_OTR_DEBUG_CATEGORY, "%s\n", line != NULL ? line : "");
}
