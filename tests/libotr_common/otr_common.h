/*
 * otr_common: the one libotr 4.1.x callback table (OtrlMessageAppOps) shared by the two C
 * programs the tests build around the real libotr:
 *   - tests/peer/otr_peer.c     a scriptable peer over pipes (one OTR user per process);
 *   - tests/host/libotr_glue.c  libotr on a libpurple account inside the headless host.
 *
 * What both do the same way lives here: the table, the callbacks' libotr work (generating
 * keys and instance tags into the configured files, writing fingerprints, policy, fragment
 * size, account names, error texts, the resent prefix) and a few small helpers. What differs
 * (how a message leaves the program, what "logged in" means, how an event is reported) is
 * a per-program OtrCommonHooks table. libotr's opdata is always the OtrCommon below.
 */
#ifndef PURPLE_OTR_TEST_OTR_COMMON_H
#define PURPLE_OTR_TEST_OTR_COMMON_H

#include <stddef.h>

/* libotr's headers are not self-contained: proto.h must come before message.h and
 * privkey.h. */
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/tlv.h>
#include <libotr/userstate.h>

typedef struct OtrCommon OtrCommon;

/* How one program differs. A NULL report hook means "not reported". */
typedef struct {
	/* Required: send MESSAGE (libotr's own text) to RECIPIENT. */
	void (*inject)(OtrCommon *c, const char *recipient, const char *message);
	/* Required: libotr's is_logged_in answer (1 online, 0 offline, -1 unknown). */
	int (*is_logged_in)(OtrCommon *c, const char *recipient);
	/* Required: what timer_control asks for (0 = stop). */
	void (*timer_control)(OtrCommon *c, unsigned int interval);
	/* create_privkey ran; GENERATED is 0 when no key was made (generation off or no
	 * file), else ERR is otrl_privkey_generate's result. */
	void (*privkey_created)(OtrCommon *c, const char *accountname, const char *protocol, int generated,
	                        gcry_error_t err);
	/* create_instag ran; ERR is otrl_instag_generate's result. */
	void (*instag_created)(OtrCommon *c, const char *accountname, const char *protocol, gcry_error_t err);
	void (*new_fingerprint)(OtrCommon *c, const char *username, const unsigned char fingerprint[20]);
	/* write_fingerprints ran; WRITTEN is 0 when no file is configured. */
	void (*fingerprints_written)(OtrCommon *c, int written, gcry_error_t err);
	/* gone_secure and gone_insecure (IS_REPLY -1) and still_secure (IS_REPLY 0 or 1). */
	void (*context_event)(OtrCommon *c, const char *kind, ConnContext *context, int is_reply);
	void (*received_symkey)(OtrCommon *c, ConnContext *context, unsigned int use, const unsigned char *usedata,
	                        size_t usedatalen, const unsigned char *symkey);
	void (*error_message)(OtrCommon *c, OtrlErrorCode code, ConnContext *context);
	void (*smp_event)(OtrCommon *c, OtrlSMPEvent event, ConnContext *context, unsigned short progress,
	                  const char *question);
	void (*msg_event)(OtrCommon *c, OtrlMessageEvent event, ConnContext *context, const char *message,
	                  gcry_error_t err);
	/* The texts otr_error_message hands libotr, indexed by OtrlErrorCode 1..4; [0] stands
	 * for any other code. */
	const char *error_texts[5];
} OtrCommonHooks;

/* One OTR user as libotr sees it; libotr's opdata. Embed it or point APP back at yours. */
struct OtrCommon {
	OtrlUserState us;
	char *keyfile;             /* where create_privkey generates */
	char *instagfile;          /* where create_instag generates (NULL: in memory only) */
	char *fpfile;              /* where write_fingerprints writes (NULL: nowhere) */
	char *resent_prefix;       /* NULL: libotr's default "[resent]" */
	OtrlPolicy policy;
	int max_message_size;      /* 0: no fragmentation */
	int generate_keys;         /* create_privkey really generates (into keyfile) */
	const OtrCommonHooks *hooks;
	void *app;                 /* the program's own per-user state */
};

/* The callback table; pass an OtrCommon * as opdata with it. */
extern const OtrlMessageAppOps otr_common_ops;

/* Lower-case hex of LEN bytes, malloc'ed: "." when LEN is 0, "-" for NULL DATA; NULL only
 * when out of memory. */
char *otr_common_hex(const unsigned char *data, size_t len);

/* never|manual|opportunistic|always or a number up to 0xff; 0 when it is neither. */
int otr_common_parse_policy(const char *s, OtrlPolicy *out);

/* Names as libotr's constants spell them after their prefix, upper case ("RCVDMSG_MALFORMED",
 * "ASK_FOR_SECRET"); "UNKNOWN" otherwise. */
const char *otr_common_msg_event_name(OtrlMessageEvent e);
const char *otr_common_smp_event_name(OtrlSMPEvent e);

/* "plaintext", "encrypted", "finished" or "unknown". */
const char *otr_common_msgstate_name(OtrlMessageState s);

#endif
