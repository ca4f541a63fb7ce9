/*
 * A stand-in for pidgin-otr in purple-otr's tests: a do-nothing libpurple plugin that
 * carries pidgin-otr's plugin id ("otr"), so purple-otr must refuse to load next to it.
 */
#define PURPLE_PLUGINS
#include <glib.h>
#include <plugin.h>
#include <version.h>

static gboolean fake_load(PurplePlugin *plugin)
{
	return TRUE;
}

static PurplePluginInfo info = {
	PURPLE_PLUGIN_MAGIC, PURPLE_MAJOR_VERSION, PURPLE_MINOR_VERSION, PURPLE_PLUGIN_STANDARD,
	NULL, 0, NULL, PURPLE_PRIORITY_DEFAULT,
	"otr", "Fake pidgin-otr", "0.0-test", "Test stand-in", "Carries pidgin-otr's plugin id.",
	"tests", NULL,
	fake_load, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

static void init_plugin(PurplePlugin *plugin)
{
}

PURPLE_INIT_PLUGIN(fake_otr, init_plugin, info)
