/*
 * otr_common: the libotr callback table shared by otr_peer.c and libotr_glue.c; see
 * otr_common.h for what is shared and what each program supplies.
 */
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c99 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otr_common.h"

/* ---- helpers ------------------------------------------------------------------------- */

char *otr_common_hex(const unsigned char *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out;
	size_t i;

	if (!data)
		return strdup("-");
	if (len == 0)
		return strdup(".");
	out = malloc(2 * len + 1);
	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return out;
}

int otr_common_parse_policy(const char *s, OtrlPolicy *out)
{
	char *end;
	unsigned long v;

	if (strcmp(s, "never") == 0) {
		*out = OTRL_POLICY_NEVER;
	} else if (strcmp(s, "manual") == 0) {
		*out = OTRL_POLICY_MANUAL;
	} else if (strcmp(s, "opportunistic") == 0) {
		*out = OTRL_POLICY_OPPORTUNISTIC;
	} else if (strcmp(s, "always") == 0) {
		*out = OTRL_POLICY_ALWAYS;
	} else {
		errno = 0;
		v = strtoul(s, &end, 0);
		if (errno || *end || end == s || v > 0xff)
			return 0;
		*out = (OtrlPolicy)v;
	}
	return 1;
}

const char *otr_common_msgstate_name(OtrlMessageState s)
{
	switch (s) {
	case OTRL_MSGSTATE_PLAINTEXT: return "plaintext";
	case OTRL_MSGSTATE_ENCRYPTED: return "encrypted";
	case OTRL_MSGSTATE_FINISHED: return "finished";
	}
	return "unknown";
}

const char *otr_common_smp_event_name(OtrlSMPEvent e)
{
	switch (e) {
	case OTRL_SMPEVENT_NONE: return "NONE";
	case OTRL_SMPEVENT_ERROR: return "ERROR";
	case OTRL_SMPEVENT_ABORT: return "ABORT";
	case OTRL_SMPEVENT_CHEATED: return "CHEATED";
	case OTRL_SMPEVENT_ASK_FOR_ANSWER: return "ASK_FOR_ANSWER";
	case OTRL_SMPEVENT_ASK_FOR_SECRET: return "ASK_FOR_SECRET";
	case OTRL_SMPEVENT_IN_PROGRESS: return "IN_PROGRESS";
	case OTRL_SMPEVENT_SUCCESS: return "SUCCESS";
	case OTRL_SMPEVENT_FAILURE: return "FAILURE";
	}
	return "UNKNOWN";
}

const char *otr_common_msg_event_name(OtrlMessageEvent e)
{
	switch (e) {
	case OTRL_MSGEVENT_NONE: return "NONE";
	case OTRL_MSGEVENT_ENCRYPTION_REQUIRED: return "ENCRYPTION_REQUIRED";
	case OTRL_MSGEVENT_ENCRYPTION_ERROR: return "ENCRYPTION_ERROR";
	case OTRL_MSGEVENT_CONNECTION_ENDED: return "CONNECTION_ENDED";
	case OTRL_MSGEVENT_SETUP_ERROR: return "SETUP_ERROR";
	case OTRL_MSGEVENT_MSG_REFLECTED: return "MSG_REFLECTED";
	case OTRL_MSGEVENT_MSG_RESENT: return "MSG_RESENT";
	case OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE: return "RCVDMSG_NOT_IN_PRIVATE";
	case OTRL_MSGEVENT_RCVDMSG_UNREADABLE: return "RCVDMSG_UNREADABLE";
	case OTRL_MSGEVENT_RCVDMSG_MALFORMED: return "RCVDMSG_MALFORMED";
	case OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD: return "LOG_HEARTBEAT_RCVD";
	case OTRL_MSGEVENT_LOG_HEARTBEAT_SENT: return "LOG_HEARTBEAT_SENT";
	case OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR: return "RCVDMSG_GENERAL_ERR";
	case OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED: return "RCVDMSG_UNENCRYPTED";
	case OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED: return "RCVDMSG_UNRECOGNIZED";
	case OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE: return "RCVDMSG_FOR_OTHER_INSTANCE";
	}
	return "UNKNOWN";
}

/* ---- the callbacks (opdata is the OtrCommon) ----------------------------------------- */

static OtrlPolicy cb_policy(void *opdata, ConnContext *context)
{
	(void)context;
	return ((OtrCommon *)opdata)->policy;
}

static void cb_create_privkey(void *opdata, const char *accountname, const char *protocol)
{
	OtrCommon *c = opdata;
	int generated = c->generate_keys && c->keyfile;
	gcry_error_t err = 0;
	if (generated)
		err = otrl_privkey_generate(c->us, c->keyfile, accountname, protocol);
	if (c->hooks->privkey_created)
		c->hooks->privkey_created(c, accountname, protocol, generated, err);
}

static int cb_is_logged_in(void *opdata, const char *accountname, const char *protocol, const char *recipient)
{
	OtrCommon *c = opdata;
	(void)accountname;
	(void)protocol;
	return c->hooks->is_logged_in(c, recipient);
}

static void cb_inject_message(void *opdata, const char *accountname, const char *protocol, const char *recipient,
                              const char *message)
{
	OtrCommon *c = opdata;
	(void)accountname;
	(void)protocol;
	c->hooks->inject(c, recipient, message);
}

static void cb_update_context_list(void *opdata)
{
	(void)opdata;
}

static void cb_new_fingerprint(void *opdata, OtrlUserState us, const char *accountname, const char *protocol,
                               const char *username, unsigned char fingerprint[20])
{
	OtrCommon *c = opdata;
	(void)us;
	(void)accountname;
	(void)protocol;
	if (c->hooks->new_fingerprint)
		c->hooks->new_fingerprint(c, username, fingerprint);
}

static void cb_write_fingerprints(void *opdata)
{
	OtrCommon *c = opdata;
	gcry_error_t err = 0;
	if (c->fpfile)
		err = otrl_privkey_write_fingerprints(c->us, c->fpfile);
	if (c->hooks->fingerprints_written)
		c->hooks->fingerprints_written(c, c->fpfile != NULL, err);
}

static void context_event(void *opdata, const char *kind, ConnContext *context, int is_reply)
{
	OtrCommon *c = opdata;
	if (c->hooks->context_event)
		c->hooks->context_event(c, kind, context, is_reply);
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

static int cb_max_message_size(void *opdata, ConnContext *context)
{
	(void)context;
	return ((OtrCommon *)opdata)->max_message_size;
}

static const char *cb_account_name(void *opdata, const char *account, const char *protocol)
{
	(void)opdata;
	(void)protocol;
	return strdup(account ? account : "");
}

/* Frees what cb_account_name, cb_otr_error_message and cb_resent_msg_prefix return. */
static void cb_free_string(void *opdata, const char *s)
{
	(void)opdata;
	free((char *)s);
}

static void cb_received_symkey(void *opdata, ConnContext *context, unsigned int use, const unsigned char *usedata,
                               size_t usedatalen, const unsigned char *symkey)
{
	OtrCommon *c = opdata;
	if (c->hooks->received_symkey)
		c->hooks->received_symkey(c, context, use, usedata, usedatalen, symkey);
}

static const char *cb_otr_error_message(void *opdata, ConnContext *context, OtrlErrorCode code)
{
	OtrCommon *c = opdata;
	int i = (code >= OTRL_ERRCODE_ENCRYPTION_ERROR && code <= OTRL_ERRCODE_MSG_MALFORMED) ? (int)code : 0;
	if (c->hooks->error_message)
		c->hooks->error_message(c, code, context);
	return strdup(c->hooks->error_texts[i]);
}

static const char *cb_resent_msg_prefix(void *opdata, ConnContext *context)
{
	OtrCommon *c = opdata;
	(void)context;
	/* NULL makes libotr fall back to its built-in prefix. */
	return c->resent_prefix ? strdup(c->resent_prefix) : NULL;
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent smp_event, ConnContext *context,
                                unsigned short progress_percent, char *question)
{
	OtrCommon *c = opdata;
	if (c->hooks->smp_event)
		c->hooks->smp_event(c, smp_event, context, progress_percent, question);
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent msg_event, ConnContext *context,
                                const char *message, gcry_error_t err)
{
	OtrCommon *c = opdata;
	if (c->hooks->msg_event)
		c->hooks->msg_event(c, msg_event, context, message, err);
}

static void cb_create_instag(void *opdata, const char *accountname, const char *protocol)
{
	OtrCommon *c = opdata;
	gcry_error_t err;
	if (c->instagfile) {
		err = otrl_instag_generate(c->us, c->instagfile, accountname, protocol);
	} else {
		/* No file configured: keep the tag in memory only. */
		FILE *scratch = tmpfile();
		if (scratch) {
			err = otrl_instag_generate_FILEp(c->us, scratch, accountname, protocol);
			fclose(scratch);
		} else {
			err = gcry_error_from_errno(errno);
		}
	}
	if (c->hooks->instag_created)
		c->hooks->instag_created(c, accountname, protocol, err);
}

static void cb_timer_control(void *opdata, unsigned int interval)
{
	OtrCommon *c = opdata;
	c->hooks->timer_control(c, interval);
}

const OtrlMessageAppOps otr_common_ops = {
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
	.account_name_free = cb_free_string,
	.received_symkey = cb_received_symkey,
	.otr_error_message = cb_otr_error_message,
	.otr_error_message_free = cb_free_string,
	.resent_msg_prefix = cb_resent_msg_prefix,
	.resent_msg_prefix_free = cb_free_string,
	.handle_smp_event = cb_handle_smp_event,
	.handle_msg_event = cb_handle_msg_event,
	.create_instag = cb_create_instag,
	/* No convert_msg: text goes out as typed, as in pidgin-otr. */
	.convert_msg = NULL,
	.convert_free = NULL,
	.timer_control = cb_timer_control,
};
