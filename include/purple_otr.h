/*
 * purple_otr.h: everything that crosses the C <-> Rust boundary of the purple-otr plugin.
 *
 * build.rs runs bindgen over this header with an allowlist (see ALLOWED_* in build.rs), so
 * the Rust side only sees the libpurple/glib items listed there. The functions declared
 * below are the C shim (src/purple/shim.c): the one thing kept in C is the printf-style
 * varargs debug API, wrapped as a fixed-arity call so no variadic reaches the bindings.
 */
#ifndef PURPLE_OTR_H
#define PURPLE_OTR_H

#include <glib.h>
/* gettext (part of glibc): the plugin's own text domain "purple-otr". */
#include <libintl.h>

/* libpurple 2.x: only the headers the plugin uses. */
#include <account.h>
#include <blist.h>
#include <connection.h>
#include <core.h>
#include <eventloop.h>
#include <pluginpref.h>
#include <prefs.h>
#include <request.h>
#include <server.h>
#include <cmds.h>
#include <conversation.h>
#include <debug.h>
#include <notify.h>
#include <plugin.h>
#include <signals.h>
#include <util.h>
#include <xmlnode.h>
#include <version.h>

/* --- Exported by the plugin (Rust, src/purple/entry.rs) ------------------------------ */

/* What PURPLE_INIT_PLUGIN expands to for a dynamically loaded plugin: libpurple looks this
 * symbol up in every .so it probes. */
gboolean purple_init_plugin(PurplePlugin *plugin);

/* --- The C shim (src/purple/shim.c) -------------------------------------------------- */

/* purple_debug_{misc,info,warning,error} are printf-style varargs: log one preformatted,
 * NUL-terminated line under the plugin's category. */
void purple_otr_debug(PurpleDebugLevel level, const char *line);

#endif /* PURPLE_OTR_H */
