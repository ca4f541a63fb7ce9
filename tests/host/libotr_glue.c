/*
 * libotr_glue: real libotr 4.1.x inside the headless test host, hooked into libpurple the
 * way pidgin-otr 4.0.2 hooks it, so a test can put our plugin face to face with libotr over
 * a real XMPP server. Commands and events: see libotr_glue.h.
 *
 * What follows pidgin-otr's behaviour (REFERENCE §1.1), in our own code:
 *  - sending-im-msg: otrl_message_sending(..., OTRL_INSTAG_BEST, ...,
 *    OTRL_FRAGMENT_SEND_ALL_BUT_LAST); libotr's own text replaces the outgoing message;
 *    on error the message becomes "" (never the plaintext).
 *  - receiving-im-msg: otrl_message_receiving; a protocol message (return 1) is swallowed
 *    (message set to NULL, handler returns TRUE); decrypted text replaces the message; the
 *    disconnect TLV is reported as "finished".
 *  - inject_message: serv_send_im on the account's connection.
 *  - is_logged_in: 1 buddy online, 0 offline, -1 not on the buddy list.
 *  - buddies are named by purple_normalize (the bare JID for XMPP).
 *
 * The libotr callback table itself is shared with tests/peer/otr_peer.c
 * (tests/libotr_common/otr_common.c); the hooks below are what this host does differently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <purple.h>

/* The shared libotr callback table; it includes libotr's headers in the order they need. */
#include "../libotr_common/otr_common.h"

#include "libotr_glue.h"

/* One account run by libotr: its own user state and files. */
typedef struct {
	OtrCommon otr;       /* libotr's side (user state, files, policy); its app is the Glue */
	char *user;          /* the account name as the test gave it */
	PurpleAccount *account;
	guint poll_timer;
} Glue;

static GHashTable *glue_by_account; /* PurpleAccount* -> Glue* */
static int signal_handle;
static gboolean initialised;

/* ---- output (the host's line format, written independently of purple_host.c) ---------- */

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

static void add(GString *l, const char *key, const char *value)
{
	g_string_append_printf(l, " %s=", key);
	put_encoded(l, value);
}

static void add_int(GString *l, const char *key, long value)
{
	g_string_append_printf(l, " %s=%ld", key, value);
}

/* " KEY=" and the 40 hex digits of a 20-byte fingerprint. */
static void add_fp(GString *l, const char *key, const unsigned char *fp)
{
	char *hex = otr_common_hex(fp, 20);
	add(l, key, hex);
	free(hex);
}

/* " KEY=" and a libotr event name in lower case ("rcvdmsg_malformed"). */
static void add_name(GString *l, const char *key, const char *name)
{
	char *lower = g_ascii_strdown(name, -1);
	add(l, key, lower);
	g_free(lower);
}

static void emit(GString *l)
{
	g_string_append_c(l, '\n');
	fputs(l->str, stdout);
	fflush(stdout);
	g_string_free(l, TRUE);
}

static GString *ok_line(const char *cmd)
{
	GString *l = g_string_new("ok ");
	g_string_append(l, cmd);
	return l;
}

static void reply_err(const char *cmd, const char *reason)
{
	GString *l = g_string_new("err ");
	g_string_append(l, cmd);
	add(l, "reason", reason);
	emit(l);
}

/* "ev otr account=USER kind=KIND who=WHO" – the caller adds fields and emits. */
static GString *event(Glue *g, const char *kind, const char *who)
{
	GString *l = g_string_new("ev otr");
	add(l, "account", g ? g->user : "");
	add(l, "kind", kind);
	add(l, "who", who);
	return l;
}

/* ---- the hooks of the shared libotr callbacks (c->app is the Glue) --------------------- */

static void glue_inject(OtrCommon *c, const char *recipient, const char *message)
{
	Glue *g = c->app;
	PurpleConnection *gc = purple_account_get_connection(g->account);
	if (gc == NULL) {
		GString *l = event(g, "inject_failed", recipient);
		emit(l);
		return;
	}
	serv_send_im(gc, recipient, message, 0);
}

static int glue_is_logged_in(OtrCommon *c, const char *recipient)
{
	Glue *g = c->app;
	PurpleBuddy *buddy = purple_find_buddy(g->account, recipient);
	if (buddy == NULL)
		return -1;
	return PURPLE_BUDDY_IS_ONLINE(buddy) ? 1 : 0;
}

static gboolean poll_now(gpointer data)
{
	Glue *g = data;
	otrl_message_poll(g->otr.us, &otr_common_ops, &g->otr);
	return TRUE;
}

static void glue_timer_control(OtrCommon *c, unsigned int interval)
{
	Glue *g = c->app;
	if (g->poll_timer)
		g_source_remove(g->poll_timer);
	g->poll_timer = interval ? g_timeout_add_seconds(interval, poll_now, g) : 0;
}

/* create_privkey and create_instag: "result=generated" or libotr's error text. */
static void generated_event(Glue *g, const char *kind, gcry_error_t err)
{
	GString *l = event(g, kind, "");
	add(l, "result", err ? gcry_strerror(err) : "generated");
	emit(l);
}

static void glue_privkey_created(OtrCommon *c, const char *accountname, const char *protocol, int generated,
                                 gcry_error_t err)
{
	/* generate_keys is on and keyfile set, so a key was always asked for. */
	generated_event(c->app, "create_privkey", err);
}

static void glue_instag_created(OtrCommon *c, const char *accountname, const char *protocol, gcry_error_t err)
{
	generated_event(c->app, "create_instag", err);
}

static void glue_new_fingerprint(OtrCommon *c, const char *username, const unsigned char fingerprint[20])
{
	GString *l = event(c->app, "new_fingerprint", username);
	add_fp(l, "fp", fingerprint);
	emit(l);
}

static void glue_context_event(OtrCommon *c, const char *kind, ConnContext *context, int is_reply)
{
	GString *l = event(c->app, kind, context ? context->username : "");
	char their[16];
	g_snprintf(their, sizeof their, "%08x", context ? context->their_instance : 0);
	add(l, "their", their);
	if (is_reply >= 0)
		add_int(l, "is_reply", is_reply);
	emit(l);
}

static void glue_smp_event(OtrCommon *c, OtrlSMPEvent smp_event, ConnContext *context, unsigned short progress,
                           const char *question)
{
	GString *l = event(c->app, "smp", context ? context->username : "");
	add_name(l, "event", otr_common_smp_event_name(smp_event));
	add_int(l, "progress", progress);
	add(l, "question", question);
	if (context && context->active_fingerprint)
		add(l, "trust", context->active_fingerprint->trust);
	emit(l);
	/* As pidgin-otr: a cheating or confused exchange is aborted at once. */
	if (context && (smp_event == OTRL_SMPEVENT_CHEATED || smp_event == OTRL_SMPEVENT_ERROR))
		otrl_message_abort_smp(c->us, &otr_common_ops, c, context);
}

static void glue_msg_event(OtrCommon *c, OtrlMessageEvent msg_event, ConnContext *context, const char *message,
                           gcry_error_t err)
{
	GString *l = event(c->app, "msg", context ? context->username : "");
	add_name(l, "event", otr_common_msg_event_name(msg_event));
	add(l, "message", message);
	add_int(l, "err", (long)gcry_err_code(err));
	emit(l);
}

static const OtrCommonHooks glue_hooks = {
	.inject = glue_inject,
	.is_logged_in = glue_is_logged_in,
	.timer_control = glue_timer_control,
	.privkey_created = glue_privkey_created,
	.instag_created = glue_instag_created,
	.new_fingerprint = glue_new_fingerprint,
	.fingerprints_written = NULL, /* written silently */
	.context_event = glue_context_event,
	.received_symkey = NULL,
	.error_message = NULL,
	.smp_event = glue_smp_event,
	.msg_event = glue_msg_event,
	.error_texts = {
		"glue: error",
		"glue: encryption failed",
		"glue: not in a private conversation",
		"glue: unreadable encrypted message",
		"glue: malformed data message",
	},
};

/* ---- the libpurple signal handlers ----------------------------------------------------- */

static void sending_im(PurpleAccount *account, const char *receiver, char **message, gpointer data)
{
	Glue *g = g_hash_table_lookup(glue_by_account, account);
	char *username, *newmessage = NULL;
	gcry_error_t err;
	if (g == NULL || receiver == NULL || message == NULL || *message == NULL)
		return;
	username = g_strdup(purple_normalize(account, receiver));
	err = otrl_message_sending(g->otr.us, &otr_common_ops, &g->otr, purple_account_get_username(account),
	                           purple_account_get_protocol_id(account), username, OTRL_INSTAG_BEST,
	                           *message, NULL, &newmessage, OTRL_FRAGMENT_SEND_ALL_BUT_LAST, NULL, NULL,
	                           NULL);
	if (err) {
		/* Never let the plaintext out when libotr failed. */
		g_free(*message);
		*message = g_strdup("");
	} else if (newmessage) {
		g_free(*message);
		*message = g_strdup(newmessage);
	}
	otrl_message_free(newmessage);
	g_free(username);
}

static gboolean receiving_im(PurpleAccount *account, char **who, char **message, PurpleConversation *conv,
                             PurpleMessageFlags *flags, gpointer data)
{
	Glue *g = g_hash_table_lookup(glue_by_account, account);
	char *username, *newmessage = NULL;
	OtrlTLV *tlvs = NULL;
	int ignore;
	if (g == NULL || who == NULL || *who == NULL || message == NULL || *message == NULL)
		return FALSE;
	username = g_strdup(purple_normalize(account, *who));
	ignore = otrl_message_receiving(g->otr.us, &otr_common_ops, &g->otr,
	                                purple_account_get_username(account),
	                                purple_account_get_protocol_id(account), username, *message,
	                                &newmessage, &tlvs, NULL, NULL, NULL);
	if (newmessage) {
		g_free(*message);
		*message = g_strdup(newmessage);
		otrl_message_free(newmessage);
	}
	if (otrl_tlv_find(tlvs, OTRL_TLV_DISCONNECTED))
		emit(event(g, "finished", username));
	otrl_tlv_free(tlvs);
	g_free(username);
	if (ignore) {
		/* A protocol message: nobody after us may display it. */
		g_free(*message);
		*message = NULL;
		return TRUE;
	}
	return FALSE;
}

/* ---- commands -------------------------------------------------------------------------- */

static Glue *find_glue(const char *cmd, const char *user)
{
	PurpleAccount *a = purple_accounts_find(user, "prpl-jabber");
	Glue *g = a ? g_hash_table_lookup(glue_by_account, a) : NULL;
	if (g == NULL)
		reply_err(cmd, a ? "libotr not enabled for this account" : "no such account");
	return g;
}

static const char *acct(Glue *g)
{
	return purple_account_get_username(g->account);
}

static const char *proto(Glue *g)
{
	return purple_account_get_protocol_id(g->account);
}

/* The context libotr would send to (best instance), or NULL after an err reply. */
static ConnContext *find_context(const char *cmd, Glue *g, const char *who)
{
	ConnContext *ctx = otrl_context_find(g->otr.us, purple_normalize(g->account, who), acct(g), proto(g),
	                                     OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
	if (ctx == NULL)
		reply_err(cmd, "no context for this buddy");
	return ctx;
}

static void add_our_fp(GString *l, Glue *g)
{
	unsigned char raw[20];
	char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
	if (otrl_privkey_fingerprint_raw(g->otr.us, raw, acct(g), proto(g))) {
		add_fp(l, "fp", raw);
		if (otrl_privkey_fingerprint(g->otr.us, human, acct(g), proto(g)))
			add(l, "human", human);
	} else {
		add(l, "fp", "-");
	}
}

static gboolean read_file(const char *cmd, const char *what, const char *path,
                          gcry_error_t (*reader)(OtrlUserState, const char *), OtrlUserState us)
{
	gcry_error_t err;
	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	err = reader(us, path);
	if (err) {
		char *reason = g_strdup_printf("reading %s: %s", what, gcry_strerror(err));
		reply_err(cmd, reason);
		g_free(reason);
		return FALSE;
	}
	return TRUE;
}

static gcry_error_t read_fingerprints(OtrlUserState us, const char *path)
{
	return otrl_privkey_read_fingerprints(us, path, NULL, NULL);
}

static void cmd_enable(const char *cmd, char **argv)
{
	PurpleAccount *a = purple_accounts_find(argv[1], "prpl-jabber");
	OtrlPolicy policy;
	OtrlInsTag *tag;
	GString *l;
	Glue *g;
	char instag[16];
	if (a == NULL) {
		reply_err(cmd, "no such account");
		return;
	}
	if (!otr_common_parse_policy(argv[5], &policy)) {
		reply_err(cmd, "bad policy");
		return;
	}
	if (!initialised) {
		OTRL_INIT;
		glue_by_account = g_hash_table_new(g_direct_hash, g_direct_equal);
		purple_signal_connect(purple_conversations_get_handle(), "sending-im-msg", &signal_handle,
		                      PURPLE_CALLBACK(sending_im), NULL);
		purple_signal_connect(purple_conversations_get_handle(), "receiving-im-msg", &signal_handle,
		                      PURPLE_CALLBACK(receiving_im), NULL);
		initialised = TRUE;
	}
	if (g_hash_table_lookup(glue_by_account, a)) {
		reply_err(cmd, "already enabled");
		return;
	}
	g = g_new0(Glue, 1);
	g->user = g_strdup(argv[1]);
	g->account = a;
	g->otr.us = otrl_userstate_create();
	g->otr.keyfile = g_strdup(argv[2]);
	g->otr.instagfile = g_strdup(argv[3]);
	g->otr.fpfile = g_strdup(argv[4]);
	g->otr.policy = policy;
	g->otr.generate_keys = 1;
	g->otr.hooks = &glue_hooks;
	g->otr.app = g;
	if (!read_file(cmd, "key file", g->otr.keyfile, otrl_privkey_read, g->otr.us)
	    || !read_file(cmd, "instance tag file", g->otr.instagfile, otrl_instag_read, g->otr.us)
	    || !read_file(cmd, "fingerprint file", g->otr.fpfile, read_fingerprints, g->otr.us)) {
		otrl_userstate_free(g->otr.us);
		g_free(g->user);
		g_free(g->otr.keyfile);
		g_free(g->otr.instagfile);
		g_free(g->otr.fpfile);
		g_free(g);
		return;
	}
	g_hash_table_insert(glue_by_account, a, g);
	l = ok_line(cmd);
	add_our_fp(l, g);
	tag = otrl_instag_find(g->otr.us, acct(g), proto(g));
	if (tag)
		g_snprintf(instag, sizeof instag, "%08x", tag->instag);
	else
		g_strlcpy(instag, "-", sizeof instag);
	add(l, "instag", instag);
	emit(l);
}

static void cmd_status(const char *cmd, Glue *g, const char *who)
{
	ConnContext *ctx = otrl_context_find(g->otr.us, purple_normalize(g->account, who), acct(g), proto(g),
	                                     OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
	GString *l = ok_line(cmd);
	char their[16];
	if (ctx == NULL) {
		add(l, "msgstate", "none");
		emit(l);
		return;
	}
	add(l, "msgstate", otr_common_msgstate_name(ctx->msgstate));
	add_int(l, "version", ctx->protocol_version);
	g_snprintf(their, sizeof their, "%08x", ctx->their_instance);
	add(l, "their", their);
	if (ctx->active_fingerprint) {
		add_fp(l, "fp", ctx->active_fingerprint->fingerprint);
		add(l, "trust", ctx->active_fingerprint->trust ? ctx->active_fingerprint->trust : "");
	} else {
		add(l, "fp", "-");
	}
	if (ctx->smstate)
		add_int(l, "smp_prog", ctx->smstate->sm_prog_state);
	emit(l);
}

gboolean libotr_glue_dispatch(char **argv, int argc)
{
	const char *cmd = argv[0];
	Glue *g;
	ConnContext *ctx;

#define NEED(n, usage) \
	if (argc < (n)) { reply_err(cmd, "usage: " usage); return TRUE; }

	if (!g_str_has_prefix(cmd, "otr_"))
		return FALSE;
	if (g_str_equal(cmd, "otr_enable")) {
		NEED(6, "otr_enable USER KEYFILE INSTAGFILE FPFILE POLICY");
		cmd_enable(cmd, argv);
		return TRUE;
	}
	NEED(2, "otr_* USER ...");
	if ((g = find_glue(cmd, argv[1])) == NULL)
		return TRUE;
	if (g_str_equal(cmd, "otr_ourfp")) {
		GString *l = ok_line(cmd);
		add_our_fp(l, g);
		emit(l);
	} else if (g_str_equal(cmd, "otr_start")) {
		char *query;
		NEED(3, "otr_start USER WHO");
		if (purple_account_get_connection(g->account) == NULL) {
			reply_err(cmd, "account offline");
			return TRUE;
		}
		/* As a "start private conversation" button: inject the query for our policy. */
		query = otrl_proto_default_query_msg(acct(g), g->otr.policy);
		glue_inject(&g->otr, purple_normalize(g->account, argv[2]), query ? query : "?OTRv23?");
		free(query);
		emit(ok_line(cmd));
	} else if (g_str_equal(cmd, "otr_end")) {
		GString *l;
		NEED(3, "otr_end USER WHO");
		if ((ctx = find_context(cmd, g, argv[2])) == NULL)
			return TRUE;
		otrl_message_disconnect(g->otr.us, &otr_common_ops, &g->otr, acct(g), proto(g), ctx->username,
		                        ctx->their_instance);
		l = ok_line(cmd);
		add(l, "msgstate", otr_common_msgstate_name(ctx->msgstate));
		emit(l);
	} else if (g_str_equal(cmd, "otr_status")) {
		NEED(3, "otr_status USER WHO");
		cmd_status(cmd, g, argv[2]);
	} else if (g_str_equal(cmd, "otr_smp_start")) {
		const char *question;
		NEED(5, "otr_smp_start USER WHO QUESTION|- SECRET");
		if ((ctx = find_context(cmd, g, argv[2])) == NULL)
			return TRUE;
		question = g_str_equal(argv[3], "-") ? NULL : argv[3];
		if (question)
			otrl_message_initiate_smp_q(g->otr.us, &otr_common_ops, &g->otr, ctx, question,
			                            (const unsigned char *)argv[4], strlen(argv[4]));
		else
			otrl_message_initiate_smp(g->otr.us, &otr_common_ops, &g->otr, ctx,
			                          (const unsigned char *)argv[4], strlen(argv[4]));
		emit(ok_line(cmd));
	} else if (g_str_equal(cmd, "otr_smp_respond")) {
		NEED(4, "otr_smp_respond USER WHO SECRET");
		if ((ctx = find_context(cmd, g, argv[2])) == NULL)
			return TRUE;
		otrl_message_respond_smp(g->otr.us, &otr_common_ops, &g->otr, ctx, (const unsigned char *)argv[3],
		                         strlen(argv[3]));
		emit(ok_line(cmd));
	} else {
		reply_err(cmd, "unknown command");
	}
	return TRUE;
#undef NEED
}
