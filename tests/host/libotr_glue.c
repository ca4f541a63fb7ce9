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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <purple.h>

/* libotr's headers are not self-contained: proto.h first. */
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/tlv.h>
#include <libotr/userstate.h>

#include "libotr_glue.h"

/* One account run by libotr: its own user state and files. */
typedef struct {
	char *user;          /* the account name as the test gave it */
	PurpleAccount *account;
	OtrlUserState us;
	char *keyfile;
	char *instagfile;
	char *fpfile;
	OtrlPolicy policy;
	guint poll_timer;
} Glue;

static GHashTable *glue_by_account; /* PurpleAccount* -> Glue* */
static OtrlMessageAppOps ops;       /* defined below, after the callbacks */
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

static char *hex20(const unsigned char *fp)
{
	GString *s = g_string_new(NULL);
	int i;
	if (fp == NULL)
		return g_string_free(s, FALSE);
	for (i = 0; i < 20; i++)
		g_string_append_printf(s, "%02x", fp[i]);
	return g_string_free(s, FALSE);
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

static const char *msgstate_name(OtrlMessageState s)
{
	switch (s) {
	case OTRL_MSGSTATE_PLAINTEXT: return "plaintext";
	case OTRL_MSGSTATE_ENCRYPTED: return "encrypted";
	case OTRL_MSGSTATE_FINISHED: return "finished";
	}
	return "unknown";
}

static const char *smp_event_name(OtrlSMPEvent e)
{
	switch (e) {
	case OTRL_SMPEVENT_NONE: return "none";
	case OTRL_SMPEVENT_ERROR: return "error";
	case OTRL_SMPEVENT_ABORT: return "abort";
	case OTRL_SMPEVENT_CHEATED: return "cheated";
	case OTRL_SMPEVENT_ASK_FOR_ANSWER: return "ask_for_answer";
	case OTRL_SMPEVENT_ASK_FOR_SECRET: return "ask_for_secret";
	case OTRL_SMPEVENT_IN_PROGRESS: return "in_progress";
	case OTRL_SMPEVENT_SUCCESS: return "success";
	case OTRL_SMPEVENT_FAILURE: return "failure";
	}
	return "unknown";
}

static const char *msg_event_name(OtrlMessageEvent e)
{
	switch (e) {
	case OTRL_MSGEVENT_NONE: return "none";
	case OTRL_MSGEVENT_ENCRYPTION_REQUIRED: return "encryption_required";
	case OTRL_MSGEVENT_ENCRYPTION_ERROR: return "encryption_error";
	case OTRL_MSGEVENT_CONNECTION_ENDED: return "connection_ended";
	case OTRL_MSGEVENT_SETUP_ERROR: return "setup_error";
	case OTRL_MSGEVENT_MSG_REFLECTED: return "msg_reflected";
	case OTRL_MSGEVENT_MSG_RESENT: return "msg_resent";
	case OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE: return "rcvdmsg_not_in_private";
	case OTRL_MSGEVENT_RCVDMSG_UNREADABLE: return "rcvdmsg_unreadable";
	case OTRL_MSGEVENT_RCVDMSG_MALFORMED: return "rcvdmsg_malformed";
	case OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD: return "log_heartbeat_rcvd";
	case OTRL_MSGEVENT_LOG_HEARTBEAT_SENT: return "log_heartbeat_sent";
	case OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR: return "rcvdmsg_general_err";
	case OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED: return "rcvdmsg_unencrypted";
	case OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED: return "rcvdmsg_unrecognized";
	case OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE: return "rcvdmsg_for_other_instance";
	}
	return "unknown";
}

/* ---- libotr callbacks (opdata is the Glue) --------------------------------------------- */

static OtrlPolicy cb_policy(void *opdata, ConnContext *context)
{
	return ((Glue *)opdata)->policy;
}

static void cb_create_privkey(void *opdata, const char *accountname, const char *protocol)
{
	Glue *g = opdata;
	gcry_error_t err = otrl_privkey_generate(g->us, g->keyfile, accountname, protocol);
	GString *l = event(g, "create_privkey", "");
	add(l, "result", err ? gcry_strerror(err) : "generated");
	emit(l);
}

static int cb_is_logged_in(void *opdata, const char *accountname, const char *protocol, const char *recipient)
{
	Glue *g = opdata;
	PurpleBuddy *buddy = purple_find_buddy(g->account, recipient);
	if (buddy == NULL)
		return -1;
	return PURPLE_BUDDY_IS_ONLINE(buddy) ? 1 : 0;
}

static void cb_inject_message(void *opdata, const char *accountname, const char *protocol, const char *recipient,
                              const char *message)
{
	Glue *g = opdata;
	PurpleConnection *gc = purple_account_get_connection(g->account);
	if (gc == NULL) {
		GString *l = event(g, "inject_failed", recipient);
		emit(l);
		return;
	}
	serv_send_im(gc, recipient, message, 0);
}

static void cb_update_context_list(void *opdata)
{
}

static void cb_new_fingerprint(void *opdata, OtrlUserState us, const char *accountname, const char *protocol,
                               const char *username, unsigned char fingerprint[20])
{
	char *fp = hex20(fingerprint);
	GString *l = event(opdata, "new_fingerprint", username);
	add(l, "fp", fp);
	emit(l);
	g_free(fp);
}

static void cb_write_fingerprints(void *opdata)
{
	Glue *g = opdata;
	otrl_privkey_write_fingerprints(g->us, g->fpfile);
}

static void context_event(Glue *g, const char *kind, ConnContext *context, int is_reply)
{
	GString *l = event(g, kind, context ? context->username : "");
	char their[16];
	g_snprintf(their, sizeof their, "%08x", context ? context->their_instance : 0);
	add(l, "their", their);
	if (is_reply >= 0)
		add_int(l, "is_reply", is_reply);
	emit(l);
}

static void cb_gone_secure(void *opdata, ConnContext *context)
{
	context_event(opdata, "gone_secure", context, -1);
}

static void cb_gone_insecure(void *opdata, ConnContext *context)
{
	context_event(opdata, "gone_insecure", context, -1);
}

static void cb_still_secure(void *opdata, ConnContext *context, int is_reply)
{
	context_event(opdata, "still_secure", context, is_reply);
}

/* pidgin-otr fragments only for protocols in its size table; XMPP is not one of them. */
static int cb_max_message_size(void *opdata, ConnContext *context)
{
	return 0;
}

static const char *cb_account_name(void *opdata, const char *account, const char *protocol)
{
	return g_strdup(account ? account : "");
}

static void cb_account_name_free(void *opdata, const char *name)
{
	g_free((char *)name);
}

static const char *cb_otr_error_message(void *opdata, ConnContext *context, OtrlErrorCode code)
{
	switch (code) {
	case OTRL_ERRCODE_ENCRYPTION_ERROR: return g_strdup("glue: encryption failed");
	case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE: return g_strdup("glue: not in a private conversation");
	case OTRL_ERRCODE_MSG_UNREADABLE: return g_strdup("glue: unreadable encrypted message");
	case OTRL_ERRCODE_MSG_MALFORMED: return g_strdup("glue: malformed data message");
	default: return g_strdup("glue: error");
	}
}

static void cb_otr_error_message_free(void *opdata, const char *msg)
{
	g_free((char *)msg);
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent smp_event, ConnContext *context,
                                unsigned short progress_percent, char *question)
{
	Glue *g = opdata;
	GString *l = event(g, "smp", context ? context->username : "");
	add(l, "event", smp_event_name(smp_event));
	add_int(l, "progress", progress_percent);
	add(l, "question", question);
	if (context && context->active_fingerprint)
		add(l, "trust", context->active_fingerprint->trust);
	emit(l);
	/* As pidgin-otr: a cheating or confused exchange is aborted at once. */
	if (context && (smp_event == OTRL_SMPEVENT_CHEATED || smp_event == OTRL_SMPEVENT_ERROR))
		otrl_message_abort_smp(g->us, &ops, g, context);
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent msg_event, ConnContext *context,
                                const char *message, gcry_error_t err)
{
	GString *l = event(opdata, "msg", context ? context->username : "");
	add(l, "event", msg_event_name(msg_event));
	add(l, "message", message);
	add_int(l, "err", (long)gcry_err_code(err));
	emit(l);
}

static void cb_create_instag(void *opdata, const char *accountname, const char *protocol)
{
	Glue *g = opdata;
	gcry_error_t err = otrl_instag_generate(g->us, g->instagfile, accountname, protocol);
	GString *l = event(g, "create_instag", "");
	add(l, "result", err ? gcry_strerror(err) : "generated");
	emit(l);
}

static gboolean poll_now(gpointer data);

static void cb_timer_control(void *opdata, unsigned int interval);

static OtrlMessageAppOps ops = {
	.policy = cb_policy,
	.create_privkey = cb_create_privkey,
	.is_logged_in = cb_is_logged_in,
	.inject_message = cb_inject_message,
	.update_context_list = cb_update_context_list,
	.new_fingerprint = cb_new_fingerprint,
	.write_fingerprints = cb_write_fingerprints,
	.gone_secure = cb_gone_secure,
	.gone_insecure = cb_gone_insecure,
	.still_secure = cb_still_secure,
	.max_message_size = cb_max_message_size,
	.account_name = cb_account_name,
	.account_name_free = cb_account_name_free,
	.received_symkey = NULL,
	.otr_error_message = cb_otr_error_message,
	.otr_error_message_free = cb_otr_error_message_free,
	.resent_msg_prefix = NULL, /* libotr's default "[resent]" */
	.resent_msg_prefix_free = NULL,
	.handle_smp_event = cb_handle_smp_event,
	.handle_msg_event = cb_handle_msg_event,
	.create_instag = cb_create_instag,
	.convert_msg = NULL, /* pidgin-otr sends the markup as typed */
	.convert_free = NULL,
	.timer_control = cb_timer_control,
};

static gboolean poll_now(gpointer data)
{
	Glue *g = data;
	otrl_message_poll(g->us, &ops, g);
	return TRUE;
}

static void cb_timer_control(void *opdata, unsigned int interval)
{
	Glue *g = opdata;
	if (g->poll_timer)
		g_source_remove(g->poll_timer);
	g->poll_timer = interval ? g_timeout_add_seconds(interval, poll_now, g) : 0;
}

/* ---- the libpurple signal handlers ----------------------------------------------------- */

static void sending_im(PurpleAccount *account, const char *receiver, char **message, gpointer data)
{
	Glue *g = g_hash_table_lookup(glue_by_account, account);
	char *username, *newmessage = NULL;
	gcry_error_t err;
	if (g == NULL || receiver == NULL || message == NULL || *message == NULL)
		return;
	username = g_strdup(purple_normalize(account, receiver));
	err = otrl_message_sending(g->us, &ops, g, purple_account_get_username(account),
	                           purple_account_get_protocol_id(account), username, OTRL_INSTAG_BEST, *message,
	                           NULL, &newmessage, OTRL_FRAGMENT_SEND_ALL_BUT_LAST, NULL, NULL, NULL);
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
	ignore = otrl_message_receiving(g->us, &ops, g, purple_account_get_username(account),
	                                purple_account_get_protocol_id(account), username, *message, &newmessage,
	                                &tlvs, NULL, NULL, NULL);
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

static gboolean parse_policy(const char *s, OtrlPolicy *out)
{
	char *end;
	unsigned long v;
	if (g_str_equal(s, "never")) *out = OTRL_POLICY_NEVER;
	else if (g_str_equal(s, "manual")) *out = OTRL_POLICY_MANUAL;
	else if (g_str_equal(s, "opportunistic")) *out = OTRL_POLICY_OPPORTUNISTIC;
	else if (g_str_equal(s, "always")) *out = OTRL_POLICY_ALWAYS;
	else {
		v = strtoul(s, &end, 0);
		if (end == s || *end || v > 0xff)
			return FALSE;
		*out = (OtrlPolicy)v;
	}
	return TRUE;
}

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
	ConnContext *ctx = otrl_context_find(g->us, purple_normalize(g->account, who), acct(g), proto(g),
	                                     OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
	if (ctx == NULL)
		reply_err(cmd, "no context for this buddy");
	return ctx;
}

static void add_our_fp(GString *l, Glue *g)
{
	unsigned char raw[20];
	char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
	if (otrl_privkey_fingerprint_raw(g->us, raw, acct(g), proto(g))) {
		char *fp = hex20(raw);
		add(l, "fp", fp);
		g_free(fp);
		if (otrl_privkey_fingerprint(g->us, human, acct(g), proto(g)))
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
	if (!parse_policy(argv[5], &policy)) {
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
	g->us = otrl_userstate_create();
	g->keyfile = g_strdup(argv[2]);
	g->instagfile = g_strdup(argv[3]);
	g->fpfile = g_strdup(argv[4]);
	g->policy = policy;
	if (!read_file(cmd, "key file", g->keyfile, otrl_privkey_read, g->us)
	    || !read_file(cmd, "instance tag file", g->instagfile, otrl_instag_read, g->us)
	    || !read_file(cmd, "fingerprint file", g->fpfile, read_fingerprints, g->us)) {
		otrl_userstate_free(g->us);
		g_free(g->user);
		g_free(g->keyfile);
		g_free(g->instagfile);
		g_free(g->fpfile);
		g_free(g);
		return;
	}
	g_hash_table_insert(glue_by_account, a, g);
	l = ok_line(cmd);
	add_our_fp(l, g);
	tag = otrl_instag_find(g->us, acct(g), proto(g));
	if (tag)
		g_snprintf(instag, sizeof instag, "%08x", tag->instag);
	else
		g_strlcpy(instag, "-", sizeof instag);
	add(l, "instag", instag);
	emit(l);
}

static void cmd_status(const char *cmd, Glue *g, const char *who)
{
	ConnContext *ctx = otrl_context_find(g->us, purple_normalize(g->account, who), acct(g), proto(g),
	                                     OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
	GString *l = ok_line(cmd);
	char their[16];
	if (ctx == NULL) {
		add(l, "msgstate", "none");
		emit(l);
		return;
	}
	add(l, "msgstate", msgstate_name(ctx->msgstate));
	add_int(l, "version", ctx->protocol_version);
	g_snprintf(their, sizeof their, "%08x", ctx->their_instance);
	add(l, "their", their);
	if (ctx->active_fingerprint) {
		char *fp = hex20(ctx->active_fingerprint->fingerprint);
		add(l, "fp", fp);
		add(l, "trust", ctx->active_fingerprint->trust ? ctx->active_fingerprint->trust : "");
		g_free(fp);
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
		query = otrl_proto_default_query_msg(acct(g), g->policy);
		cb_inject_message(g, acct(g), proto(g), purple_normalize(g->account, argv[2]),
		                  query ? query : "?OTRv23?");
		free(query);
		emit(ok_line(cmd));
	} else if (g_str_equal(cmd, "otr_end")) {
		GString *l;
		NEED(3, "otr_end USER WHO");
		if ((ctx = find_context(cmd, g, argv[2])) == NULL)
			return TRUE;
		otrl_message_disconnect(g->us, &ops, g, acct(g), proto(g), ctx->username, ctx->their_instance);
		l = ok_line(cmd);
		add(l, "msgstate", msgstate_name(ctx->msgstate));
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
			otrl_message_initiate_smp_q(g->us, &ops, g, ctx, question, (const unsigned char *)argv[4],
			                            strlen(argv[4]));
		else
			otrl_message_initiate_smp(g->us, &ops, g, ctx, (const unsigned char *)argv[4], strlen(argv[4]));
		emit(ok_line(cmd));
	} else if (g_str_equal(cmd, "otr_smp_respond")) {
		NEED(4, "otr_smp_respond USER WHO SECRET");
		if ((ctx = find_context(cmd, g, argv[2])) == NULL)
			return TRUE;
		otrl_message_respond_smp(g->us, &ops, g, ctx, (const unsigned char *)argv[3], strlen(argv[3]));
		emit(ok_line(cmd));
	} else {
		reply_err(cmd, "unknown command");
	}
	return TRUE;
#undef NEED
}
