/*
 * purple_host: a headless libpurple client for purple-otr's tests.
 *
 * Usage: purple_host USER_DIR
 *   PURPLE_HOST_DEBUG=1 prints libpurple's debug log to stderr.
 *
 * Protocol (line based, both directions). Every field that can hold arbitrary text is
 * percent-encoded: bytes outside [A-Za-z0-9._~-] become %XX, so a field never contains a
 * space or a newline and any text (HTML, newlines, NULs excluded) round-trips.
 *
 *   stdin:  COMMAND ARG ARG ...             (ARGs percent-encoded, one space apart; an
 *                                           empty ARG is nothing between two spaces)
 *   stdout: ok COMMAND key=value ...        (the reply to one command; values encoded)
 *           err COMMAND reason=...          (the command failed)
 *           ev EVENT key=value ...          (something happened; may come at any time)
 *
 * Commands are answered strictly in order; a command that waits (wait_signed_on) holds
 * back the ones after it. A key may repeat (item=, choice=) to form a list.
 *
 * Commands:
 *   ping
 *   plugin_load PATH                    probe + load a plugin .so
 *   plugin_unload ID
 *   plugin_info ID                      id name version summary description author homepage loaded error
 *   debug_events on|off                 report libpurple debug lines as `ev debug`
 *   account_add USER PASSWORD SERVER PORT   XMPP account (USER with /resource; an empty
 *                                       PASSWORD saves none, so libpurple asks for it)
 *   account_set USER KEY bool|int|string VALUE   a prpl setting (accounts.xml)
 *   account_connect USER                enable for this UI and connect
 *   wait_signed_on USER TIMEOUT_MS
 *   buddy_add USER BUDDY                add BUDDY to the local buddy list (no server roster)
 *   buddy_remove USER BUDDY             remove BUDDY from the local buddy list
 *   conv_open USER WHO                  open (or find) the IM conversation
 *   conv_close USER WHO                 purple_conversation_destroy (the window closes)
 *   conv_menu USER WHO                  items of purple_conversation_get_extended_menu
 *   conv_menu_invoke USER WHO LABEL
 *   blist_menu USER BUDDY buddy|contact items of purple_blist_node_get_extended_menu
 *   blist_menu_invoke USER BUDDY buddy|contact LABEL
 *   conv_cmd USER WHO LINE              purple_cmd_do_command (LINE as typed, leading / optional)
 *   send_im USER WHO TEXT               purple_conv_im_send (runs sending-im-msg)
 *   request_field ID FIELD VALUE        fill in a field of a pending `fields` request
 *   request_answer ID INDEX [TEXT]      answer a pending request (see `ev request`)
 *   pref_set PATH bool|int|string VALUE set a libpurple preference (prefs.xml); the path
 *                                       must exist already (registered by core or a plugin)
 *   otr_*                               real libotr on an account (only when built with
 *                                       -DWITH_LIBOTR; see libotr_glue.h)
 *   quit
 *
 * Events: ready, signed_on, signed_off, connection_error, buddy_signed_on, buddy_signed_off,
 * received_im,
 * write_conv, conv_created, conv_destroyed, notify, request, request_closed, debug.
 * Submenu items are reported as PARENT/CHILD (each part encoded, so "/" inside a label
 * shows as %2F).
 */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <purple.h>

#ifdef WITH_LIBOTR
#include "libotr_glue.h" /* otr_* commands: real libotr on an account (see there) */
#endif

#define UI_ID "purple-otr-test-host"

static GMainLoop *loop;
static int host_handle;          /* handle for our signal connections */
static gboolean debug_to_stderr; /* PURPLE_HOST_DEBUG=1 */
static gboolean debug_events;    /* debug_events on */
static GHashTable *accounts;     /* USER as given -> PurpleAccount* */
static GQueue *pending_lines;    /* commands held back while one waits */
static gboolean busy;            /* a command is waiting */

/* ---------------------------------------------------------------------------------------
 * Encoding and output
 * ------------------------------------------------------------------------------------- */

static void put_encoded(GString *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	for (; *p; p++) {
		if (g_ascii_isalnum(*p) || *p == '.' || *p == '_' || *p == '~' || *p == '-')
			g_string_append_c(out, (char)*p);
		else
			g_string_append_printf(out, "%%%02X", *p);
	}
}

static char *decode(const char *s)
{
	GString *out = g_string_new(NULL);
	for (; *s; s++) {
		if (*s == '%' && g_ascii_isxdigit(s[1]) && g_ascii_isxdigit(s[2])) {
			g_string_append_c(out, (char)(g_ascii_xdigit_value(s[1]) * 16 + g_ascii_xdigit_value(s[2])));
			s += 2;
		} else {
			g_string_append_c(out, *s);
		}
	}
	return g_string_free(out, FALSE);
}

/* A line under construction: "ok cmd", "err cmd" or "ev name", then key=value fields. */
static GString *line_start(const char *kind, const char *name)
{
	GString *l = g_string_new(kind);
	g_string_append_c(l, ' ');
	g_string_append(l, name);
	return l;
}

static void field(GString *l, const char *key, const char *value)
{
	g_string_append_printf(l, " %s=", key);
	put_encoded(l, value);
}

static void field_int(GString *l, const char *key, long value)
{
	g_string_append_printf(l, " %s=%ld", key, value);
}

static void line_emit(GString *l)
{
	g_string_append_c(l, '\n');
	fputs(l->str, stdout);
	fflush(stdout);
	g_string_free(l, TRUE);
}

static void reply_ok(const char *cmd)
{
	line_emit(line_start("ok", cmd));
}

static void reply_err(const char *cmd, const char *reason)
{
	GString *l = line_start("err", cmd);
	field(l, "reason", reason);
	line_emit(l);
}

static const char *account_key(PurpleAccount *account)
{
	GHashTableIter it;
	gpointer k, v;
	if (account == NULL)
		return "";
	g_hash_table_iter_init(&it, accounts);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (v == account)
			return k;
	return purple_account_get_username(account);
}

/* ---------------------------------------------------------------------------------------
 * Event loop UI ops (glib)
 * ------------------------------------------------------------------------------------- */

typedef struct {
	PurpleInputFunction function;
	guint result;
	gpointer data;
} IoClosure;

static gboolean io_invoke(GIOChannel *source, GIOCondition condition, gpointer data)
{
	IoClosure *closure = data;
	int cond = 0;
	if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		cond |= PURPLE_INPUT_READ;
	if (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
		cond |= PURPLE_INPUT_WRITE;
	closure->function(closure->data, g_io_channel_unix_get_fd(source), cond);
	return TRUE;
}

static guint input_add(gint fd, PurpleInputCondition condition, PurpleInputFunction function, gpointer data)
{
	IoClosure *closure = g_new0(IoClosure, 1);
	GIOChannel *channel;
	int cond = 0;
	closure->function = function;
	closure->data = data;
	if (condition & PURPLE_INPUT_READ)
		cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (condition & PURPLE_INPUT_WRITE)
		cond |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
	channel = g_io_channel_unix_new(fd);
	closure->result = g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, cond, io_invoke, closure, g_free);
	g_io_channel_unref(channel);
	return closure->result;
}

static PurpleEventLoopUiOps eventloop_ops = {
	g_timeout_add, g_source_remove, input_add, g_source_remove, NULL,
	g_timeout_add_seconds, NULL, NULL, NULL,
};

/* ---------------------------------------------------------------------------------------
 * Debug, notify, request and conversation UI ops
 * ------------------------------------------------------------------------------------- */

static void debug_print(PurpleDebugLevel level, const char *category, const char *arg)
{
	if (debug_to_stderr)
		fprintf(stderr, "[%d] %s: %s", level, category ? category : "-", arg ? arg : "");
	if (debug_events) {
		GString *l = line_start("ev", "debug");
		char *text = g_strchomp(g_strdup(arg ? arg : ""));
		field_int(l, "level", level);
		field(l, "category", category);
		field(l, "text", text);
		g_free(text);
		line_emit(l);
	}
}

static gboolean debug_is_enabled(PurpleDebugLevel level, const char *category)
{
	return debug_to_stderr || debug_events;
}

static PurpleDebugUiOps debug_ops = { debug_print, debug_is_enabled, NULL, NULL, NULL, NULL };

static void *notify_message(PurpleNotifyMsgType type, const char *title, const char *primary, const char *secondary)
{
	GString *l = line_start("ev", "notify");
	field(l, "type", type == PURPLE_NOTIFY_MSG_ERROR ? "error" : type == PURPLE_NOTIFY_MSG_WARNING ? "warning" : "info");
	field(l, "title", title);
	field(l, "primary", primary);
	field(l, "secondary", secondary);
	line_emit(l);
	return NULL; /* closed at once: libpurple runs the close callback now */
}

static void *notify_formatted(const char *title, const char *primary, const char *secondary, const char *text)
{
	GString *l = line_start("ev", "notify");
	field(l, "type", "formatted");
	field(l, "title", title);
	field(l, "primary", primary);
	field(l, "secondary", secondary);
	field(l, "text", text);
	line_emit(l);
	return NULL;
}

static void *notify_uri(const char *uri)
{
	GString *l = line_start("ev", "notify");
	field(l, "type", "uri");
	field(l, "uri", uri);
	line_emit(l);
	return NULL;
}

static PurpleNotifyUiOps notify_ops = {
	notify_message, NULL, NULL, notify_formatted, NULL, NULL, NULL, notify_uri, NULL,
	NULL, NULL, NULL, NULL,
};

/* A request dialog waiting for `request_answer`. */
typedef struct {
	int id;
	PurpleRequestType type;
	const char *kind;      /* "action", "choice", "input", "fields", "file", "folder" */
	void *user_data;
	GPtrArray *callbacks;  /* action: one per action; others: [ok, cancel] */
	GArray *values;        /* choice: the value of each choice */
	PurpleRequestFields *fields;
} Request;

static GHashTable *requests; /* id -> Request* */
static int next_request_id = 1;

static Request *request_new(PurpleRequestType type, const char *kind, void *user_data)
{
	Request *r = g_new0(Request, 1);
	r->id = next_request_id++;
	r->type = type;
	r->kind = kind;
	r->user_data = user_data;
	r->callbacks = g_ptr_array_new();
	r->values = g_array_new(FALSE, FALSE, sizeof(int));
	g_hash_table_insert(requests, GINT_TO_POINTER(r->id), r);
	return r;
}

static GString *request_line(Request *r, const char *title, const char *primary, const char *secondary,
                             PurpleAccount *account, const char *who)
{
	GString *l = line_start("ev", "request");
	field_int(l, "id", r->id);
	field(l, "kind", r->kind);
	field(l, "title", title);
	field(l, "primary", primary);
	field(l, "secondary", secondary);
	field(l, "account", account_key(account));
	field(l, "who", who);
	return l;
}

static void *request_input(const char *title, const char *primary, const char *secondary,
                           const char *default_value, gboolean multiline, gboolean masked, gchar *hint,
                           const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                           PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data)
{
	Request *r = request_new(PURPLE_REQUEST_INPUT, "input", user_data);
	GString *l;
	g_ptr_array_add(r->callbacks, ok_cb);
	g_ptr_array_add(r->callbacks, cancel_cb);
	l = request_line(r, title, primary, secondary, account, who);
	field(l, "default", default_value);
	field_int(l, "masked", masked);
	field(l, "choice", ok_text);
	field(l, "choice", cancel_text);
	line_emit(l);
	return r;
}

static void *request_choice(const char *title, const char *primary, const char *secondary, int default_value,
                            const char *ok_text, GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                            PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data,
                            va_list choices)
{
	Request *r = request_new(PURPLE_REQUEST_CHOICE, "choice", user_data);
	GString *l = request_line(r, title, primary, secondary, account, who);
	const char *label;
	g_ptr_array_add(r->callbacks, ok_cb);
	g_ptr_array_add(r->callbacks, cancel_cb);
	field_int(l, "default", default_value);
	while ((label = va_arg(choices, const char *)) != NULL) {
		int value = va_arg(choices, int);
		g_array_append_val(r->values, value);
		field(l, "choice", label);
	}
	line_emit(l);
	return r;
}

static void *request_action(const char *title, const char *primary, const char *secondary, int default_action,
                            PurpleAccount *account, const char *who, PurpleConversation *conv, void *user_data,
                            size_t action_count, va_list actions)
{
	Request *r = request_new(PURPLE_REQUEST_ACTION, "action", user_data);
	GString *l = request_line(r, title, primary, secondary, account, who);
	size_t i;
	field_int(l, "default", default_action);
	for (i = 0; i < action_count; i++) {
		const char *label = va_arg(actions, const char *);
		GCallback cb = va_arg(actions, GCallback);
		g_ptr_array_add(r->callbacks, cb);
		field(l, "choice", label);
	}
	line_emit(l);
	return r;
}

static void *request_fields(const char *title, const char *primary, const char *secondary,
                            PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb,
                            const char *cancel_text, GCallback cancel_cb, PurpleAccount *account,
                            const char *who, PurpleConversation *conv, void *user_data)
{
	Request *r = request_new(PURPLE_REQUEST_FIELDS, "fields", user_data);
	GString *l = request_line(r, title, primary, secondary, account, who);
	GList *g, *f;
	r->fields = fields;
	g_ptr_array_add(r->callbacks, ok_cb);
	g_ptr_array_add(r->callbacks, cancel_cb);
	field(l, "choice", ok_text);
	field(l, "choice", cancel_text);
	for (g = purple_request_fields_get_groups(fields); g; g = g->next)
		for (f = purple_request_field_group_get_fields(g->data); f; f = f->next)
			field(l, "field", purple_request_field_get_id(f->data));
	line_emit(l);
	return r;
}

static void *request_file(const char *title, const char *filename, gboolean savedialog, GCallback ok_cb,
                          GCallback cancel_cb, PurpleAccount *account, const char *who,
                          PurpleConversation *conv, void *user_data)
{
	Request *r = request_new(PURPLE_REQUEST_FILE, "file", user_data);
	GString *l = request_line(r, title, filename, NULL, account, who);
	g_ptr_array_add(r->callbacks, ok_cb);
	g_ptr_array_add(r->callbacks, cancel_cb);
	line_emit(l);
	return r;
}

static void close_request(PurpleRequestType type, void *ui_handle)
{
	Request *r = ui_handle;
	GString *l = line_start("ev", "request_closed");
	field_int(l, "id", r->id);
	line_emit(l);
	g_hash_table_remove(requests, GINT_TO_POINTER(r->id));
	g_ptr_array_free(r->callbacks, TRUE);
	g_array_free(r->values, TRUE);
	g_free(r);
}

static PurpleRequestUiOps request_ops = {
	request_input, request_choice, request_action, request_fields, request_file,
	close_request, NULL, NULL, NULL, NULL, NULL,
};

/* request_answer ID INDEX [TEXT]: action -> the INDEXth action; choice -> INDEX is the
 * position of the choice (cancel: -1); input/fields/file -> 0 = ok (TEXT for input and
 * file), 1 = cancel. */
static void cmd_request_answer(char **argv, int argc)
{
	Request *r;
	int index;
	GCallback cb = NULL;
	if (argc < 3) {
		reply_err("request_answer", "usage: request_answer ID INDEX [TEXT]");
		return;
	}
	r = g_hash_table_lookup(requests, GINT_TO_POINTER(atoi(argv[1])));
	index = atoi(argv[2]);
	if (r == NULL) {
		reply_err("request_answer", "no such request");
		return;
	}
	if (g_str_equal(r->kind, "action")) {
		if (index < 0 || (guint)index >= r->callbacks->len) {
			reply_err("request_answer", "no such action");
			return;
		}
		cb = g_ptr_array_index(r->callbacks, index);
		if (cb)
			((PurpleRequestActionCb)cb)(r->user_data, index);
	} else if (g_str_equal(r->kind, "choice")) {
		if (index < 0) {
			cb = g_ptr_array_index(r->callbacks, 1);
			if (cb)
				((PurpleRequestChoiceCb)cb)(r->user_data, 0);
		} else if ((guint)index < r->values->len) {
			cb = g_ptr_array_index(r->callbacks, 0);
			if (cb)
				((PurpleRequestChoiceCb)cb)(r->user_data, g_array_index(r->values, int, index));
		} else {
			reply_err("request_answer", "no such choice");
			return;
		}
	} else if (g_str_equal(r->kind, "input") || g_str_equal(r->kind, "file")) {
		cb = g_ptr_array_index(r->callbacks, index == 0 ? 0 : 1);
		if (cb)
			((PurpleRequestInputCb)cb)(r->user_data, index == 0 && argc > 3 ? argv[3] : NULL);
	} else if (g_str_equal(r->kind, "fields")) {
		cb = g_ptr_array_index(r->callbacks, index == 0 ? 0 : 1);
		if (cb)
			((PurpleRequestFieldsCb)cb)(r->user_data, r->fields);
	}
	/* The UI closes the dialog after answering (it may already be closed by the callback). */
	if (g_hash_table_lookup(requests, GINT_TO_POINTER(atoi(argv[1]))) == r)
		purple_request_close(r->type, r);
	reply_ok("request_answer");
}

/* request_field ID FIELD VALUE: fill in one field of a pending `fields` request before
 * answering it (string: VALUE; bool/int/choice: a number). */
static void cmd_request_field(char **argv, int argc)
{
	Request *r;
	PurpleRequestField *f;
	if (argc < 4) {
		reply_err("request_field", "usage: request_field ID FIELD VALUE");
		return;
	}
	r = g_hash_table_lookup(requests, GINT_TO_POINTER(atoi(argv[1])));
	if (r == NULL || r->fields == NULL) {
		reply_err("request_field", "no such fields request");
		return;
	}
	f = purple_request_fields_get_field(r->fields, argv[2]);
	if (f == NULL) {
		reply_err("request_field", "no such field");
		return;
	}
	switch (purple_request_field_get_type(f)) {
	case PURPLE_REQUEST_FIELD_STRING:
		purple_request_field_string_set_value(f, argv[3]);
		break;
	case PURPLE_REQUEST_FIELD_BOOLEAN:
		purple_request_field_bool_set_value(f, atoi(argv[3]) != 0);
		break;
	case PURPLE_REQUEST_FIELD_INTEGER:
		purple_request_field_int_set_value(f, atoi(argv[3]));
		break;
	case PURPLE_REQUEST_FIELD_CHOICE:
		purple_request_field_choice_set_value(f, atoi(argv[3]));
		break;
	default:
		reply_err("request_field", "field type not supported");
		return;
	}
	reply_ok("request_field");
}

static void conv_report(const char *event, PurpleConversation *conv)
{
	GString *l = line_start("ev", event);
	field(l, "account", account_key(purple_conversation_get_account(conv)));
	field(l, "conv", purple_conversation_get_name(conv));
	field(l, "type", purple_conversation_get_type(conv) == PURPLE_CONV_TYPE_IM ? "im" : "other");
	line_emit(l);
}

static void create_conversation(PurpleConversation *conv)
{
	conv_report("conv_created", conv);
}

static void destroy_conversation(PurpleConversation *conv)
{
	conv_report("conv_destroyed", conv);
}

static void write_conv(PurpleConversation *conv, const char *who, const char *alias, const char *message,
                       PurpleMessageFlags flags, time_t mtime)
{
	GString *l = line_start("ev", "write_conv");
	field(l, "account", account_key(purple_conversation_get_account(conv)));
	field(l, "conv", purple_conversation_get_name(conv));
	field(l, "who", who);
	field_int(l, "flags", flags);
	field(l, "text", message);
	line_emit(l);
}

static PurpleConversationUiOps conv_ops = {
	create_conversation, destroy_conversation, NULL, NULL, write_conv,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

static GHashTable *ui_info(void)
{
	static GHashTable *info;
	if (info == NULL) {
		info = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(info, "name", "purple-otr test host");
		g_hash_table_insert(info, "version", "1");
		g_hash_table_insert(info, "client_type", "bot");
	}
	return info;
}

static PurpleCoreUiOps core_ops = {
	NULL, NULL, NULL, NULL, ui_info, NULL, NULL, NULL,
};

/* ---------------------------------------------------------------------------------------
 * Signals reported as events
 * ------------------------------------------------------------------------------------- */

/* wait_signed_on in progress */
static PurpleAccount *waiting_for;
static guint wait_timer;
static void resume_commands(void);

static void finish_wait(gboolean ok)
{
	if (wait_timer)
		g_source_remove(wait_timer);
	wait_timer = 0;
	waiting_for = NULL;
	if (ok)
		reply_ok("wait_signed_on");
	else
		reply_err("wait_signed_on", "timeout");
	busy = FALSE;
	resume_commands();
}

static void signed_on(PurpleConnection *gc, gpointer data)
{
	PurpleAccount *account = purple_connection_get_account(gc);
	GString *l = line_start("ev", "signed_on");
	field(l, "account", account_key(account));
	line_emit(l);
	if (waiting_for == account)
		finish_wait(TRUE);
}

static void signed_off(PurpleConnection *gc, gpointer data)
{
	GString *l = line_start("ev", "signed_off");
	field(l, "account", account_key(purple_connection_get_account(gc)));
	line_emit(l);
}

static void connection_error(PurpleConnection *gc, PurpleConnectionError err, const char *desc, gpointer data)
{
	GString *l = line_start("ev", "connection_error");
	field(l, "account", account_key(purple_connection_get_account(gc)));
	field_int(l, "code", err);
	field(l, "reason", desc);
	line_emit(l);
}

static void buddy_signed_on(PurpleBuddy *buddy, gpointer data)
{
	GString *l = line_start("ev", "buddy_signed_on");
	field(l, "account", account_key(purple_buddy_get_account(buddy)));
	field(l, "buddy", purple_buddy_get_name(buddy));
	line_emit(l);
}

static void buddy_signed_off(PurpleBuddy *buddy, gpointer data)
{
	GString *l = line_start("ev", "buddy_signed_off");
	field(l, "account", account_key(purple_buddy_get_account(buddy)));
	field(l, "buddy", purple_buddy_get_name(buddy));
	line_emit(l);
}

static void received_im(PurpleAccount *account, char *sender, char *message, PurpleConversation *conv,
                        PurpleMessageFlags flags, gpointer data)
{
	GString *l = line_start("ev", "received_im");
	field(l, "account", account_key(account));
	field(l, "sender", sender);
	field_int(l, "flags", flags);
	field(l, "text", message);
	line_emit(l);
}

/* ---------------------------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------------------------- */

static PurpleAccount *find_account(const char *cmd, const char *user)
{
	PurpleAccount *a = g_hash_table_lookup(accounts, user);
	if (a == NULL)
		reply_err(cmd, "no such account");
	return a;
}

static PurpleConversation *find_conv(const char *cmd, const char *user, const char *who, gboolean create)
{
	PurpleAccount *a = find_account(cmd, user);
	PurpleConversation *conv;
	if (a == NULL)
		return NULL;
	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, who, a);
	if (conv == NULL && create)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, a, who);
	if (conv == NULL)
		reply_err(cmd, "no such conversation");
	return conv;
}

static PurpleBlistNode *find_node(const char *cmd, const char *user, const char *buddy, const char *which)
{
	PurpleAccount *a = find_account(cmd, user);
	PurpleBuddy *b;
	if (a == NULL)
		return NULL;
	b = purple_find_buddy(a, buddy);
	if (b == NULL) {
		reply_err(cmd, "no such buddy");
		return NULL;
	}
	if (g_str_equal(which, "contact"))
		return (PurpleBlistNode *)purple_buddy_get_contact(b);
	return (PurpleBlistNode *)b;
}

static void free_menu(GList *menu)
{
	GList *it;
	for (it = menu; it; it = it->next) {
		PurpleMenuAction *act = it->data;
		if (act == NULL)
			continue;
		free_menu(act->children);
		purple_menu_action_free(act);
	}
	g_list_free(menu);
}

/* Adds item=PATH fields for every action (depth first). */
static void list_menu(GString *l, GList *menu, const char *prefix)
{
	GList *it;
	for (it = menu; it; it = it->next) {
		PurpleMenuAction *act = it->data;
		GString *path;
		if (act == NULL)
			continue; /* separator */
		path = g_string_new(prefix);
		if (prefix[0])
			g_string_append(path, "%2F");
		put_encoded(path, act->label);
		g_string_append_printf(l, " item=%s", path->str);
		list_menu(l, act->children, path->str);
		g_string_free(path, TRUE);
	}
}

/* Finds the action whose encoded PATH matches. */
static PurpleMenuAction *find_action(GList *menu, const char *encoded_path, const char *prefix)
{
	GList *it;
	for (it = menu; it; it = it->next) {
		PurpleMenuAction *act = it->data;
		PurpleMenuAction *found = NULL;
		GString *path;
		if (act == NULL)
			continue;
		path = g_string_new(prefix);
		if (prefix[0])
			g_string_append(path, "%2F");
		put_encoded(path, act->label);
		if (g_str_equal(path->str, encoded_path))
			found = act;
		else
			found = find_action(act->children, encoded_path, path->str);
		g_string_free(path, TRUE);
		if (found)
			return found;
	}
	return NULL;
}

static void report_menu(const char *cmd, GList *menu)
{
	GString *l = line_start("ok", cmd);
	list_menu(l, menu, "");
	line_emit(l);
	free_menu(menu);
}

/* Calls the action labelled LABEL (decoded) with the object the UI built the menu for. */
static void invoke_menu(const char *cmd, GList *menu, gpointer object, const char *label)
{
	GString *encoded = g_string_new(NULL);
	PurpleMenuAction *act;
	put_encoded(encoded, label);
	act = find_action(menu, encoded->str, "");
	g_string_free(encoded, TRUE);
	if (act == NULL || act->callback == NULL) {
		reply_err(cmd, act == NULL ? "no such menu item" : "menu item has no action");
	} else {
		((void (*)(gpointer, gpointer))act->callback)(object, act->data);
		reply_ok(cmd);
	}
	free_menu(menu);
}

static void plugin_report(const char *cmd, PurplePlugin *p)
{
	GString *l = line_start("ok", cmd);
	field(l, "id", purple_plugin_get_id(p));
	field(l, "name", purple_plugin_get_name(p));
	field(l, "version", purple_plugin_get_version(p));
	field(l, "summary", purple_plugin_get_summary(p));
	field(l, "description", purple_plugin_get_description(p));
	field(l, "author", purple_plugin_get_author(p));
	field(l, "homepage", purple_plugin_get_homepage(p));
	field_int(l, "loaded", purple_plugin_is_loaded(p));
	field(l, "error", p->error);
	if (p->info) {
		field_int(l, "type", p->info->type);
		field(l, "ui_requirement", p->info->ui_requirement);
		field_int(l, "magic", p->info->magic);
		field_int(l, "major", p->info->major_version);
		field_int(l, "minor", p->info->minor_version);
	}
	line_emit(l);
}

static gboolean wait_timeout(gpointer data)
{
	wait_timer = 0;
	finish_wait(FALSE);
	return FALSE;
}

static void dispatch(char **argv, int argc)
{
	const char *cmd = argv[0];

#define NEED(n, usage) \
	if (argc < (n)) { reply_err(cmd, "usage: " usage); return; }

	if (g_str_equal(cmd, "ping")) {
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "quit")) {
		reply_ok(cmd);
		g_main_loop_quit(loop);
	} else if (g_str_equal(cmd, "debug_events")) {
		NEED(2, "debug_events on|off");
		debug_events = g_str_equal(argv[1], "on");
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "plugin_load")) {
		PurplePlugin *p;
		NEED(2, "plugin_load PATH");
		p = purple_plugin_probe(argv[1]);
		if (p == NULL) {
			reply_err(cmd, "probe failed");
		} else if (!purple_plugin_load(p)) {
			reply_err(cmd, p->error ? p->error : "load failed");
		} else {
			plugin_report(cmd, p);
		}
	} else if (g_str_equal(cmd, "plugin_unload") || g_str_equal(cmd, "plugin_info")) {
		PurplePlugin *p;
		NEED(2, "plugin_unload|plugin_info ID");
		p = purple_plugins_find_with_id(argv[1]);
		if (p == NULL)
			reply_err(cmd, "no such plugin");
		else if (g_str_equal(cmd, "plugin_info"))
			plugin_report(cmd, p);
		else if (!purple_plugin_unload(p))
			reply_err(cmd, "unload failed");
		else
			reply_ok(cmd);
	} else if (g_str_equal(cmd, "account_add")) {
		PurpleAccount *a;
		NEED(5, "account_add USER PASSWORD SERVER PORT");
		a = purple_account_new(argv[1], "prpl-jabber");
		if (argv[2][0] != '\0') { /* empty: no saved password, libpurple will ask */
			purple_account_set_password(a, argv[2]);
			purple_account_set_remember_password(a, TRUE);
		}
		purple_account_set_string(a, "connect_server", argv[3]);
		purple_account_set_int(a, "port", atoi(argv[4]));
		purple_account_set_string(a, "connection_security", "opportunistic_tls");
		purple_account_set_bool(a, "auth_plain_in_clear", TRUE);
		purple_account_set_string(a, "ft_proxies", "");
		purple_accounts_add(a);
		g_hash_table_insert(accounts, g_strdup(argv[1]), a);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "account_set")) {
		PurpleAccount *a;
		NEED(5, "account_set USER KEY bool|int|string VALUE");
		if ((a = find_account(cmd, argv[1])) == NULL)
			return;
		if (g_str_equal(argv[3], "bool"))
			purple_account_set_bool(a, argv[2], atoi(argv[4]) != 0);
		else if (g_str_equal(argv[3], "int"))
			purple_account_set_int(a, argv[2], atoi(argv[4]));
		else
			purple_account_set_string(a, argv[2], argv[4]);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "account_connect")) {
		PurpleAccount *a;
		NEED(2, "account_connect USER");
		if ((a = find_account(cmd, argv[1])) == NULL)
			return;
		purple_account_set_enabled(a, UI_ID, TRUE);
		if (!purple_account_is_connected(a) && !purple_account_is_connecting(a))
			purple_account_connect(a);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "wait_signed_on")) {
		PurpleAccount *a;
		NEED(3, "wait_signed_on USER TIMEOUT_MS");
		if ((a = find_account(cmd, argv[1])) == NULL)
			return;
		if (purple_account_is_connected(a)) {
			reply_ok(cmd);
			return;
		}
		busy = TRUE;
		waiting_for = a;
		wait_timer = g_timeout_add(atoi(argv[2]), wait_timeout, NULL);
	} else if (g_str_equal(cmd, "buddy_add")) {
		PurpleAccount *a;
		PurpleGroup *group;
		NEED(3, "buddy_add USER BUDDY");
		if ((a = find_account(cmd, argv[1])) == NULL)
			return;
		if (purple_find_buddy(a, argv[2]) == NULL) {
			group = purple_find_group("Buddies");
			if (group == NULL) {
				group = purple_group_new("Buddies");
				purple_blist_add_group(group, NULL);
			}
			purple_blist_add_buddy(purple_buddy_new(a, argv[2], NULL), NULL, group, NULL);
		}
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "buddy_remove")) {
		PurpleAccount *a;
		PurpleBuddy *b;
		NEED(3, "buddy_remove USER BUDDY");
		if ((a = find_account(cmd, argv[1])) == NULL)
			return;
		if ((b = purple_find_buddy(a, argv[2])) != NULL)
			purple_blist_remove_buddy(b);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "conv_open")) {
		PurpleConversation *conv;
		NEED(3, "conv_open USER WHO");
		if ((conv = find_conv(cmd, argv[1], argv[2], TRUE)) == NULL)
			return;
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "conv_close")) {
		PurpleConversation *conv;
		NEED(3, "conv_close USER WHO");
		if ((conv = find_conv(cmd, argv[1], argv[2], FALSE)) == NULL)
			return;
		purple_conversation_destroy(conv);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "pref_set")) {
		NEED(4, "pref_set PATH bool|int|string VALUE");
		if (!purple_prefs_exists(argv[1])) {
			reply_err(cmd, "no such preference");
			return;
		}
		if (g_str_equal(argv[2], "bool"))
			purple_prefs_set_bool(argv[1], atoi(argv[3]) != 0);
		else if (g_str_equal(argv[2], "int"))
			purple_prefs_set_int(argv[1], atoi(argv[3]));
		else
			purple_prefs_set_string(argv[1], argv[3]);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "conv_menu") || g_str_equal(cmd, "conv_menu_invoke")) {
		PurpleConversation *conv;
		gboolean invoke = g_str_equal(cmd, "conv_menu_invoke");
		NEED(invoke ? 4 : 3, "conv_menu USER WHO | conv_menu_invoke USER WHO LABEL");
		if ((conv = find_conv(cmd, argv[1], argv[2], FALSE)) == NULL)
			return;
		if (invoke)
			invoke_menu(cmd, purple_conversation_get_extended_menu(conv), conv, argv[3]);
		else
			report_menu(cmd, purple_conversation_get_extended_menu(conv));
	} else if (g_str_equal(cmd, "blist_menu") || g_str_equal(cmd, "blist_menu_invoke")) {
		PurpleBlistNode *node;
		gboolean invoke = g_str_equal(cmd, "blist_menu_invoke");
		NEED(invoke ? 5 : 4, "blist_menu USER BUDDY buddy|contact | blist_menu_invoke USER BUDDY buddy|contact LABEL");
		if ((node = find_node(cmd, argv[1], argv[2], argv[3])) == NULL)
			return;
		if (invoke)
			invoke_menu(cmd, purple_blist_node_get_extended_menu(node), node, argv[4]);
		else
			report_menu(cmd, purple_blist_node_get_extended_menu(node));
	} else if (g_str_equal(cmd, "conv_cmd")) {
		PurpleConversation *conv;
		const char *line;
		char *markup, *error = NULL;
		PurpleCmdStatus status;
		GString *l;
		NEED(4, "conv_cmd USER WHO LINE");
		if ((conv = find_conv(cmd, argv[1], argv[2], TRUE)) == NULL)
			return;
		line = argv[3][0] == '/' ? argv[3] + 1 : argv[3];
		markup = g_markup_escape_text(line, -1);
		status = purple_cmd_do_command(conv, line, markup, &error);
		l = line_start("ok", cmd);
		field_int(l, "status", status);
		field(l, "error", error);
		line_emit(l);
		g_free(markup);
		g_free(error);
	} else if (g_str_equal(cmd, "send_im")) {
		PurpleConversation *conv;
		NEED(4, "send_im USER WHO TEXT");
		if ((conv = find_conv(cmd, argv[1], argv[2], TRUE)) == NULL)
			return;
		purple_conv_im_send(PURPLE_CONV_IM(conv), argv[3]);
		reply_ok(cmd);
	} else if (g_str_equal(cmd, "request_answer")) {
		cmd_request_answer(argv, argc);
	} else if (g_str_equal(cmd, "request_field")) {
		cmd_request_field(argv, argc);
#ifdef WITH_LIBOTR
	} else if (libotr_glue_dispatch(argv, argc)) {
		/* answered by the libotr glue */
#endif
	} else {
		reply_err(cmd, "unknown command");
	}
#undef NEED
}

static void handle_line(const char *line)
{
	char **raw = g_strsplit(line, " ", -1);
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	char **it;
	/* Single spaces separate arguments, so an empty argument is simply nothing between
	 * two spaces. */
	for (it = raw; *it; it++)
		g_ptr_array_add(argv, decode(*it));
	if (argv->len > 0 && ((char *)g_ptr_array_index(argv, 0))[0] != '\0') {
		g_ptr_array_add(argv, NULL);
		dispatch((char **)argv->pdata, (int)argv->len - 1);
	}
	g_ptr_array_free(argv, TRUE);
	g_strfreev(raw);
}

static void resume_commands(void)
{
	while (!busy && !g_queue_is_empty(pending_lines)) {
		char *line = g_queue_pop_head(pending_lines);
		handle_line(line);
		g_free(line);
	}
}

static gboolean stdin_ready(GIOChannel *source, GIOCondition condition, gpointer data)
{
	char *line = NULL;
	gsize terminator = 0;
	GIOStatus status;
	while ((status = g_io_channel_read_line(source, &line, NULL, &terminator, NULL)) == G_IO_STATUS_NORMAL) {
		if (line) {
			line[terminator] = '\0';
			g_queue_push_tail(pending_lines, line);
		}
		line = NULL;
	}
	resume_commands();
	if (status == G_IO_STATUS_EOF || status == G_IO_STATUS_ERROR) {
		/* The test went away: leave. */
		g_main_loop_quit(loop);
		return FALSE;
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	GIOChannel *in;
	const char *env;

	if (argc != 2) {
		fprintf(stderr, "usage: %s USER_DIR\n", argv[0]);
		return 2;
	}
	/* The user's locale, as Pidgin and Finch set it: plugins' gettext follows it. */
	setlocale(LC_ALL, "");
	setvbuf(stdout, NULL, _IOLBF, 0);
	env = g_getenv("PURPLE_HOST_DEBUG");
	debug_to_stderr = env != NULL && g_str_equal(env, "1");

	loop = g_main_loop_new(NULL, FALSE);
	accounts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	requests = g_hash_table_new(g_direct_hash, g_direct_equal);
	pending_lines = g_queue_new();

	purple_util_set_user_dir(argv[1]);
	purple_debug_set_enabled(FALSE);
	purple_debug_set_ui_ops(&debug_ops);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&eventloop_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_request_set_ui_ops(&request_ops);
	purple_conversations_set_ui_ops(&conv_ops);

	if (!purple_core_init(UI_ID)) {
		fprintf(stderr, "purple_core_init failed\n");
		return 1;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();
	purple_prefs_load();

	/* No traffic beyond the test's own server: no STUN SRV lookup, no public-IP discovery,
	 * no UPnP/NAT-PMP. Set before any account connects. */
	purple_prefs_set_string("/purple/network/stun_server", "127.0.0.1");
	purple_prefs_set_bool("/purple/network/auto_ip", FALSE);
	purple_prefs_set_bool("/purple/network/map_ports", FALSE);
	purple_prefs_set_bool("/purple/logging/log_ims", FALSE);
	purple_prefs_set_bool("/purple/logging/log_system", FALSE);

	purple_signal_connect(purple_connections_get_handle(), "signed-on", &host_handle, PURPLE_CALLBACK(signed_on), NULL);
	purple_signal_connect(purple_connections_get_handle(), "signed-off", &host_handle, PURPLE_CALLBACK(signed_off), NULL);
	purple_signal_connect(purple_connections_get_handle(), "connection-error", &host_handle, PURPLE_CALLBACK(connection_error), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-on", &host_handle, PURPLE_CALLBACK(buddy_signed_on), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-off", &host_handle, PURPLE_CALLBACK(buddy_signed_off), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg", &host_handle, PURPLE_CALLBACK(received_im), NULL);

	in = g_io_channel_unix_new(0);
	g_io_channel_set_encoding(in, NULL, NULL);
	g_io_channel_set_flags(in, G_IO_FLAG_NONBLOCK, NULL);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_ready, NULL);

	line_emit(line_start("ev", "ready"));
	g_main_loop_run(loop);

	purple_core_quit();
	return 0;
}
