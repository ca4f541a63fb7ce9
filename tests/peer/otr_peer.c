/*
 * otr_peer: a scriptable OTR client built on the real libotr (4.1.x), used by
 * the purple-otr test suite to prove interoperability.
 *
 * One process = one OTR user (one account, any number of buddies). It reads
 * one command per line on stdin and answers with zero or more lines on stdout,
 * always ending with a line "done". Every text payload (messages, questions,
 * secrets, trust levels) is lower-case hex so that any byte, newline or HTML
 * survives the trip; "." stands for an empty payload and "-" for an absent one.
 * The full table of commands and output lines is in tests/peer/README.md.
 *
 * Callbacks from libotr are reported as "event ..." lines the moment they
 * fire; messages libotr wants sent are reported as "out <to> <hex>" lines.
 * Both can happen re-entrantly inside any libotr call, which is why a command
 * is only complete once "done" has been printed.
 *
 * Build: gcc -O1 -o otr_peer otr_peer.c ../libotr_common/otr_common.c \
 *        $(pkg-config --cflags --libs libotr) -lgcrypt
 */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libotr/version.h>

/* The libotr callback table (and libotr's headers in the order they need),
 * shared with the test host's libotr glue. */
#include "../libotr_common/otr_common.h"

#define MAX_ARGS 8

/* ---- state of this peer ------------------------------------------------ */

/* libotr's side of this user (user state, key/instag/fingerprint files,
 * policy, fragment size, autogen, resent prefix); the opdata of every libotr
 * call. */
static OtrCommon otr = { .policy = OTRL_POLICY_DEFAULT };
static char *account;       /* accountname as libotr sees it */
static char *protocol;      /* e.g. prpl-jabber */
static int logged_in = 1;   /* what is_logged_in answers */

/* ---- output ------------------------------------------------------------ */

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Hex of a byte string, malloc'ed. "." for empty, "-" for NULL. */
static char *hex_of(const unsigned char *data, size_t len)
{
    char *out = otr_common_hex(data, len);
    if (!out) {
        emit("fatal out of memory");
        exit(2);
    }
    return out;
}

static char *hex_of_str(const char *s)
{
    return hex_of((const unsigned char *)s, s ? strlen(s) : 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode a hex token ("." = empty). Returns a NUL-terminated malloc'ed
 * buffer and its length, or NULL on malformed input. */
static unsigned char *unhex(const char *tok, size_t *lenp)
{
    size_t n, i;
    unsigned char *out;

    if (strcmp(tok, ".") == 0) {
        out = calloc(1, 1);
        *lenp = 0;
        return out;
    }
    n = strlen(tok);
    if (n == 0 || n % 2 != 0) return NULL;
    out = malloc(n / 2 + 1);
    if (!out) return NULL;
    for (i = 0; i < n / 2; i++) {
        int hi = hexval(tok[2 * i]), lo = hexval(tok[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    out[n / 2] = '\0';
    *lenp = n / 2;
    return out;
}

/* Decode a hex token that must be text (no NUL byte inside). */
static char *unhex_text(const char *tok)
{
    size_t len;
    unsigned char *buf = unhex(tok, &len);
    if (!buf) return NULL;
    if (memchr(buf, '\0', len)) {
        free(buf);
        return NULL;
    }
    return (char *)buf;
}

static const char *authstate_name(OtrlAuthState s)
{
    switch (s) {
    case OTRL_AUTHSTATE_NONE: return "none";
    case OTRL_AUTHSTATE_AWAITING_DHKEY: return "awaiting_dhkey";
    case OTRL_AUTHSTATE_AWAITING_REVEALSIG: return "awaiting_revealsig";
    case OTRL_AUTHSTATE_AWAITING_SIG: return "awaiting_sig";
    case OTRL_AUTHSTATE_V1_SETUP: return "v1_setup";
    }
    return "unknown";
}

static const char *smp_expect_name(NextExpectedSMP s)
{
    switch (s) {
    case OTRL_SMP_EXPECT1: return "expect1";
    case OTRL_SMP_EXPECT2: return "expect2";
    case OTRL_SMP_EXPECT3: return "expect3";
    case OTRL_SMP_EXPECT4: return "expect4";
    case OTRL_SMP_EXPECT5: return "expect5";
    }
    return "unknown";
}

static const char *smp_prog_name(OtrlSMProgState s)
{
    switch (s) {
    case OTRL_SMP_PROG_OK: return "ok";
    case OTRL_SMP_PROG_CHEATED: return "cheated";
    case OTRL_SMP_PROG_FAILED: return "failed";
    case OTRL_SMP_PROG_SUCCEEDED: return "succeeded";
    }
    return "unknown";
}

static const char *errcode_name(OtrlErrorCode c)
{
    switch (c) {
    case OTRL_ERRCODE_NONE: return "NONE";
    case OTRL_ERRCODE_ENCRYPTION_ERROR: return "ENCRYPTION_ERROR";
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE: return "MSG_NOT_IN_PRIVATE";
    case OTRL_ERRCODE_MSG_UNREADABLE: return "MSG_UNREADABLE";
    case OTRL_ERRCODE_MSG_MALFORMED: return "MSG_MALFORMED";
    }
    return "UNKNOWN";
}

/* The username of a context, safe against NULL. */
static const char *ctx_user(ConnContext *ctx)
{
    return (ctx && ctx->username) ? ctx->username : "-";
}

static unsigned int ctx_their(ConnContext *ctx)
{
    return ctx ? ctx->their_instance : 0;
}

/* ---- how this peer differs (the hooks of the shared libotr callbacks) -- */

/* A message libotr wants sent becomes an "out" line for the driver. */
static void peer_inject(OtrCommon *c, const char *recipient,
        const char *message)
{
    char *hex = hex_of_str(message);
    (void)c;
    emit("out %s %s", recipient ? recipient : "-", hex);
    free(hex);
}

static int peer_is_logged_in(OtrCommon *c, const char *recipient)
{
    (void)c; (void)recipient;
    return logged_in;
}

static void peer_timer_control(OtrCommon *c, unsigned int interval)
{
    (void)c;
    emit("event timer %u", interval);
}

static void peer_privkey_created(OtrCommon *c, const char *accountname,
        const char *proto, int generated, gcry_error_t err)
{
    char *acct_hex = hex_of_str(accountname);
    (void)c;
    emit("event create_privkey %s %s %s", acct_hex, proto ? proto : "-",
            !generated ? "skipped" : err ? "failed" : "generated");
    free(acct_hex);
}

static void peer_instag_created(OtrCommon *c, const char *accountname,
        const char *proto, gcry_error_t err)
{
    OtrlInsTag *tag = otrl_instag_find(c->us, accountname, proto);
    char *acct_hex = hex_of_str(accountname);
    if (err || !tag) {
        emit("event create_instag %s %s failed", acct_hex,
                proto ? proto : "-");
    } else {
        emit("event create_instag %s %s %08x", acct_hex, proto ? proto : "-",
                tag->instag);
    }
    free(acct_hex);
}

static void peer_new_fingerprint(OtrCommon *c, const char *username,
        const unsigned char fingerprint[20])
{
    char *fp = hex_of(fingerprint, 20);
    (void)c;
    emit("event new_fingerprint %s %s", username ? username : "-", fp);
    free(fp);
}

static void peer_fingerprints_written(OtrCommon *c, int written,
        gcry_error_t err)
{
    (void)c;
    emit("event write_fingerprints %s",
            !written ? "skipped" : err ? "failed" : "written");
}

static void peer_context_event(OtrCommon *c, const char *kind,
        ConnContext *context, int is_reply)
{
    (void)c;
    if (is_reply < 0) {
        emit("event %s %s %08x", kind, ctx_user(context), ctx_their(context));
    } else {
        emit("event %s %s %08x %d", kind, ctx_user(context),
                ctx_their(context), is_reply);
    }
}

static void peer_received_symkey(OtrCommon *c, ConnContext *context,
        unsigned int use, const unsigned char *usedata, size_t usedatalen,
        const unsigned char *symkey)
{
    char *data_hex = hex_of(usedata ? usedata : (const unsigned char *)"",
            usedatalen);
    char *key_hex = hex_of(symkey, OTRL_EXTRAKEY_BYTES);
    (void)c;
    emit("event received_symkey %s %08x %u %s %s", ctx_user(context),
            ctx_their(context), use, data_hex, key_hex);
    free(data_hex);
    free(key_hex);
}

static void peer_error_message(OtrCommon *c, OtrlErrorCode code,
        ConnContext *context)
{
    (void)c;
    emit("event otr_error_message %s %s %08x", errcode_name(code),
            ctx_user(context), ctx_their(context));
}

static void peer_smp_event(OtrCommon *c, OtrlSMPEvent event,
        ConnContext *context, unsigned short progress, const char *question)
{
    char *q = hex_of_str(question);
    (void)c;
    emit("event smp %s %s %08x %u %s", otr_common_smp_event_name(event),
            ctx_user(context), ctx_their(context), progress, q);
    free(q);
}

static void peer_msg_event(OtrCommon *c, OtrlMessageEvent event,
        ConnContext *context, const char *message, gcry_error_t err)
{
    char *m = hex_of_str(message);
    (void)c;
    emit("event msg %s %s %08x %s %u", otr_common_msg_event_name(event),
            ctx_user(context), ctx_their(context), m,
            (unsigned int)gcry_err_code(err));
    free(m);
}

static const OtrCommonHooks peer_hooks = {
    .inject = peer_inject,
    .is_logged_in = peer_is_logged_in,
    .timer_control = peer_timer_control,
    .privkey_created = peer_privkey_created,
    .instag_created = peer_instag_created,
    .new_fingerprint = peer_new_fingerprint,
    .fingerprints_written = peer_fingerprints_written,
    .context_event = peer_context_event,
    .received_symkey = peer_received_symkey,
    .error_message = peer_error_message,
    .smp_event = peer_smp_event,
    .msg_event = peer_msg_event,
    /* Our own short texts: tests only need them to exist and be
     * recognisable. */
    .error_texts = {
        "peer: error",
        "peer: could not encrypt",
        "peer: no private session with you",
        "peer: could not read your encrypted message",
        "peer: your data message was malformed",
    },
};

/* ---- command helpers --------------------------------------------------- */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("error ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void fail_gcry(const char *what, gcry_error_t err)
{
    fail("%s: %s (%u)", what, gcry_strerror(err),
            (unsigned int)gcry_err_code(err));
}

static void set_str(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? strdup(value) : NULL;
}

static int need_account(void)
{
    if (!account || !protocol) {
        fail("no account: send 'account <hex> <protocol>' first");
        return 0;
    }
    return 1;
}

/* Parse an instance tag argument: a meta name or hex (optionally 0x). */
static int parse_instag(const char *tok, otrl_instag_t *out)
{
    char *end;
    unsigned long v;

    if (!tok) { *out = OTRL_INSTAG_BEST; return 1; }
    if (strcmp(tok, "master") == 0) { *out = OTRL_INSTAG_MASTER; return 1; }
    if (strcmp(tok, "best") == 0) { *out = OTRL_INSTAG_BEST; return 1; }
    if (strcmp(tok, "recent") == 0) { *out = OTRL_INSTAG_RECENT; return 1; }
    if (strcmp(tok, "recent_received") == 0) {
        *out = OTRL_INSTAG_RECENT_RECEIVED;
        return 1;
    }
    if (strcmp(tok, "recent_sent") == 0) {
        *out = OTRL_INSTAG_RECENT_SENT;
        return 1;
    }
    if (tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) tok += 2;
    if (!*tok || strlen(tok) > 8) return 0;
    errno = 0;
    v = strtoul(tok, &end, 16);
    if (errno || *end) return 0;
    *out = (otrl_instag_t)v;
    return 1;
}

static int parse_int(const char *tok, long min, long max, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(tok, &end, 10);
    if (errno || *end || end == tok || v < min || v > max) return 0;
    *out = v;
    return 1;
}

static ConnContext *find_context(const char *buddy, const char *instag_tok)
{
    otrl_instag_t instag;
    ConnContext *ctx;

    if (!parse_instag(instag_tok, &instag)) {
        fail("bad instance tag '%s'", instag_tok);
        return NULL;
    }
    ctx = otrl_context_find(otr.us, buddy, account, protocol, instag, 0, NULL,
            NULL, NULL);
    if (!ctx) fail("no context for %s", buddy);
    return ctx;
}

static void emit_our_fingerprint(const char *label)
{
    unsigned char raw[20];
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];

    if (account && protocol &&
            otrl_privkey_fingerprint_raw(otr.us, raw, account, protocol) &&
            otrl_privkey_fingerprint(otr.us, human, account, protocol)) {
        char *hex = hex_of(raw, 20);
        emit("%s %s %s", label, hex, human);
        free(hex);
    } else {
        emit("%s -", label);
    }
}

static void emit_instag(void)
{
    OtrlInsTag *tag = (account && protocol) ?
        otrl_instag_find(otr.us, account, protocol) : NULL;
    if (tag) emit("instag %08x", tag->instag);
    else emit("instag -");
}

/* One "key=value" description of a context. */
static void emit_context(const char *label, ConnContext *ctx)
{
    Fingerprint *fp = ctx->active_fingerprint;
    char *fp_hex = hex_of(fp ? fp->fingerprint : NULL, 20);
    char *trust_hex = hex_of_str(fp ? fp->trust : NULL);
    char *sid_hex = ctx->sessionid_len ?
        hex_of(ctx->sessionid, ctx->sessionid_len) : strdup("-");
    const char *smp = ctx->smstate ?
        smp_expect_name(ctx->smstate->nextExpected) : "-";
    const char *smpprog = ctx->smstate ?
        smp_prog_name(ctx->smstate->sm_prog_state) : "-";
    const char *offer;

    switch (ctx->otr_offer) {
    case OFFER_NOT: offer = "not"; break;
    case OFFER_SENT: offer = "sent"; break;
    case OFFER_REJECTED: offer = "rejected"; break;
    case OFFER_ACCEPTED: offer = "accepted"; break;
    default: offer = "unknown"; break;
    }

    emit("%s buddy=%s master=%d msgstate=%s version=%u our=%08x their=%08x "
            "auth=%s fp=%s trust=%s sessionid=%s bold=%s smp=%s smpprog=%s "
            "offer=%s",
            label, ctx_user(ctx), ctx->m_context == ctx,
            otr_common_msgstate_name(ctx->msgstate), ctx->protocol_version,
            ctx->our_instance, ctx->their_instance,
            authstate_name(ctx->auth.authstate), fp_hex, trust_hex, sid_hex,
            ctx->sessionid_half == OTRL_SESSIONID_FIRST_HALF_BOLD ?
                "first" : "second",
            smp, smpprog, offer);
    free(fp_hex);
    free(trust_hex);
    free(sid_hex);
}

/* Send what otrl_message_sending hands back, following libotr 4.1's
 * OTRL_FRAGMENT_SEND_ALL contract: whenever it produced a message of its
 * own (encrypted, tagged, query, error, or the "" it substitutes in
 * FINISHED) it has already injected it, fragmenting as needed, and leaves a
 * copy in *messagep that must NOT be sent again. Only when *messagep stays
 * NULL does the original text go out untouched. */
static void do_send(const char *buddy, const char *text, const char *inst)
{
    otrl_instag_t instag;
    char *newmsg = NULL;
    gcry_error_t err;

    if (!parse_instag(inst, &instag)) {
        fail("bad instance tag '%s'", inst);
        return;
    }
    err = otrl_message_sending(otr.us, &otr_common_ops, &otr, account,
            protocol, buddy, instag, text, NULL, &newmsg,
            OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (err) {
        /* Never send the plaintext when libotr failed. */
        fail_gcry("otrl_message_sending", err);
    } else if (!newmsg) {
        char *hex = hex_of_str(text);
        emit("out %s %s", buddy, hex);
        free(hex);
    }
    otrl_message_free(newmsg);
}

static void do_recv(const char *buddy, const char *raw)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL, *t;
    int ignore;

    ignore = otrl_message_receiving(otr.us, &otr_common_ops, &otr, account,
            protocol, buddy, raw, &newmsg, &tlvs, NULL, NULL, NULL);
    for (t = tlvs; t; t = t->next) {
        char *v = hex_of(t->data ? t->data : (const unsigned char *)"",
                t->len);
        emit("tlv %u %s", t->type, v);
        free(v);
    }
    if (ignore) {
        emit("ignored");
    } else {
        char *hex = hex_of_str(newmsg ? newmsg : raw);
        emit("display %s", hex);
        free(hex);
    }
    otrl_message_free(newmsg);
    otrl_tlv_free(tlvs);
}

/* ---- command dispatch -------------------------------------------------- */

/* Split at single spaces into at most MAX_ARGS tokens; the last token keeps
 * the rest of the line (so a path may contain spaces). */
static int split(char *line, char **argv)
{
    int argc = 0;
    char *p = line;

    while (*p && argc < MAX_ARGS) {
        while (*p == ' ') p++;
        if (!*p) break;
        argv[argc++] = p;
        if (argc == MAX_ARGS) break;
        while (*p && *p != ' ') p++;
        if (*p) *p++ = '\0';
    }
    return argc;
}

/* Rest-of-line argument: re-join tokens split off after index i. */
static const char *rest(char **argv, int argc, int i, char *line_end)
{
    int j;
    if (i >= argc) return NULL;
    for (j = i; j < argc - 1; j++) {
        char *nul = argv[j] + strlen(argv[j]);
        if (nul < line_end) *nul = ' ';
    }
    return argv[i];
}

#define NEED(n, usage) do { if (argc < (n)) { fail("usage: %s", usage); \
    return 0; } } while (0)

/* Returns 1 when the peer should exit. */
static int dispatch(char *line)
{
    char *argv[MAX_ARGS];
    char *line_end = line + strlen(line);
    int argc = split(line, argv);
    const char *cmd;

    if (argc == 0) {
        fail("empty command");
        return 0;
    }
    cmd = argv[0];

    if (strcmp(cmd, "quit") == 0) {
        return 1;
    } else if (strcmp(cmd, "version") == 0) {
        emit("version %s", otrl_version());
    } else if (strcmp(cmd, "account") == 0) {
        char *name;
        NEED(3, "account <accountname-hex> <protocol>");
        name = unhex_text(argv[1]);
        if (!name) { fail("bad hex"); return 0; }
        free(account);
        account = name;
        set_str(&protocol, argv[2]);
    } else if (strcmp(cmd, "keyfile") == 0 || strcmp(cmd, "genkey") == 0) {
        const char *path;
        gcry_error_t err;
        NEED(2, "keyfile|genkey <path>");
        path = rest(argv, argc, 1, line_end);
        if (cmd[0] == 'k') {
            set_str(&otr.keyfile, path);
            if (access(path, F_OK) == 0) {
                err = otrl_privkey_read(otr.us, path);
                if (err) { fail_gcry("otrl_privkey_read", err); return 0; }
            }
        } else {
            if (!need_account()) return 0;
            err = otrl_privkey_generate(otr.us, path, account, protocol);
            if (err) { fail_gcry("otrl_privkey_generate", err); return 0; }
        }
        emit_our_fingerprint("fingerprint");
    } else if (strcmp(cmd, "instagfile") == 0 ||
            strcmp(cmd, "geninstag") == 0) {
        const char *path;
        gcry_error_t err;
        NEED(2, "instagfile|geninstag <path>");
        path = rest(argv, argc, 1, line_end);
        set_str(&otr.instagfile, path);
        if (cmd[0] == 'i') {
            if (access(path, F_OK) == 0) {
                err = otrl_instag_read(otr.us, path);
                if (err) { fail_gcry("otrl_instag_read", err); return 0; }
            }
        } else {
            if (!need_account()) return 0;
            err = otrl_instag_generate(otr.us, path, account, protocol);
            if (err) { fail_gcry("otrl_instag_generate", err); return 0; }
        }
        emit_instag();
    } else if (strcmp(cmd, "fpfile") == 0) {
        const char *path;
        gcry_error_t err;
        NEED(2, "fpfile <path>");
        path = rest(argv, argc, 1, line_end);
        set_str(&otr.fpfile, path);
        if (access(path, F_OK) == 0) {
            err = otrl_privkey_read_fingerprints(otr.us, path, NULL, NULL);
            if (err) {
                fail_gcry("otrl_privkey_read_fingerprints", err);
                return 0;
            }
        }
    } else if (strcmp(cmd, "writefps") == 0) {
        const char *path =
            argc >= 2 ? rest(argv, argc, 1, line_end) : otr.fpfile;
        gcry_error_t err;
        if (!path) { fail("no fingerprint file"); return 0; }
        err = otrl_privkey_write_fingerprints(otr.us, path);
        if (err) fail_gcry("otrl_privkey_write_fingerprints", err);
    } else if (strcmp(cmd, "policy") == 0) {
        OtrlPolicy p;
        NEED(2, "policy <never|manual|opportunistic|always|0xNN>");
        if (!otr_common_parse_policy(argv[1], &p)) {
            fail("bad policy");
            return 0;
        }
        otr.policy = p;
        emit("policy 0x%02x", otr.policy);
    } else if (strcmp(cmd, "mms") == 0) {
        long v;
        NEED(2, "mms <n>");
        if (!parse_int(argv[1], 0, 1000000000L, &v)) {
            fail("bad size");
            return 0;
        }
        otr.max_message_size = (int)v;
    } else if (strcmp(cmd, "loggedin") == 0) {
        long v;
        NEED(2, "loggedin <0|1|-1>");
        if (!parse_int(argv[1], -1, 1, &v)) { fail("bad value"); return 0; }
        logged_in = (int)v;
    } else if (strcmp(cmd, "autogen") == 0) {
        long v;
        NEED(2, "autogen <0|1>");
        if (!parse_int(argv[1], 0, 1, &v)) { fail("bad value"); return 0; }
        otr.generate_keys = (int)v;
    } else if (strcmp(cmd, "resentprefix") == 0) {
        NEED(2, "resentprefix <hex|->");
        if (strcmp(argv[1], "-") == 0) {
            set_str(&otr.resent_prefix, NULL);
        } else {
            char *p = unhex_text(argv[1]);
            if (!p) { fail("bad hex"); return 0; }
            free(otr.resent_prefix);
            otr.resent_prefix = p;
        }
    } else if (strcmp(cmd, "send") == 0) {
        char *text;
        NEED(3, "send <buddy> <hex-text> [instag]");
        if (!need_account()) return 0;
        text = unhex_text(argv[2]);
        if (!text) { fail("bad hex (or NUL byte in text)"); return 0; }
        do_send(argv[1], text, argc >= 4 ? argv[3] : NULL);
        free(text);
    } else if (strcmp(cmd, "recv") == 0) {
        char *raw;
        NEED(3, "recv <buddy> <hex-raw>");
        if (!need_account()) return 0;
        raw = unhex_text(argv[2]);
        if (!raw) { fail("bad hex (or NUL byte in text)"); return 0; }
        do_recv(argv[1], raw);
        free(raw);
    } else if (strcmp(cmd, "start") == 0) {
        char *query;
        NEED(2, "start <buddy>");
        if (!need_account()) return 0;
        /* Like a "Start private conversation" button: inject the default
         * query message for our policy directly. */
        query = otrl_proto_default_query_msg(account, otr.policy);
        if (!query) { fail("no query message"); return 0; }
        peer_inject(&otr, argv[1], query);
        free(query);
    } else if (strcmp(cmd, "disconnect") == 0) {
        NEED(2, "disconnect <buddy> [instag|all]");
        if (!need_account()) return 0;
        if (argc >= 3 && strcmp(argv[2], "all") == 0) {
            otrl_message_disconnect_all_instances(otr.us, &otr_common_ops,
                    &otr, account, protocol, argv[1]);
        } else {
            otrl_instag_t instag;
            if (!parse_instag(argc >= 3 ? argv[2] : NULL, &instag)) {
                fail("bad instance tag");
                return 0;
            }
            otrl_message_disconnect(otr.us, &otr_common_ops, &otr, account,
                    protocol, argv[1], instag);
        }
    } else if (strcmp(cmd, "smpstart") == 0) {
        ConnContext *ctx;
        char *question = NULL;
        unsigned char *secret;
        size_t secretlen;
        NEED(4, "smpstart <buddy> <hex-question|-> <hex-secret> [instag]");
        if (!need_account()) return 0;
        if (strcmp(argv[2], "-") != 0) {
            question = unhex_text(argv[2]);
            if (!question) { fail("bad question hex"); return 0; }
        }
        secret = unhex(argv[3], &secretlen);
        if (!secret) { free(question); fail("bad secret hex"); return 0; }
        ctx = find_context(argv[1], argc >= 5 ? argv[4] : NULL);
        if (ctx) {
            if (question) {
                otrl_message_initiate_smp_q(otr.us, &otr_common_ops, &otr,
                        ctx, question, secret, secretlen);
            } else {
                otrl_message_initiate_smp(otr.us, &otr_common_ops, &otr,
                        ctx, secret, secretlen);
            }
        }
        free(question);
        free(secret);
    } else if (strcmp(cmd, "smprespond") == 0) {
        ConnContext *ctx;
        unsigned char *secret;
        size_t secretlen;
        NEED(3, "smprespond <buddy> <hex-secret> [instag]");
        if (!need_account()) return 0;
        secret = unhex(argv[2], &secretlen);
        if (!secret) { fail("bad secret hex"); return 0; }
        ctx = find_context(argv[1], argc >= 4 ? argv[3] : NULL);
        if (ctx) {
            otrl_message_respond_smp(otr.us, &otr_common_ops, &otr, ctx,
                    secret, secretlen);
        }
        free(secret);
    } else if (strcmp(cmd, "smpabort") == 0) {
        ConnContext *ctx;
        NEED(2, "smpabort <buddy> [instag]");
        if (!need_account()) return 0;
        ctx = find_context(argv[1], argc >= 3 ? argv[2] : NULL);
        if (ctx) otrl_message_abort_smp(otr.us, &otr_common_ops, &otr, ctx);
    } else if (strcmp(cmd, "poll") == 0) {
        otrl_message_poll(otr.us, &otr_common_ops, &otr);
    } else if (strcmp(cmd, "trust") == 0) {
        ConnContext *ctx;
        char *level = NULL;
        NEED(3, "trust <buddy> <hex-level|.|-> [instag]");
        if (!need_account()) return 0;
        if (strcmp(argv[2], "-") != 0) {
            level = unhex_text(argv[2]);
            if (!level) { fail("bad hex"); return 0; }
        }
        ctx = find_context(argv[1], argc >= 4 ? argv[3] : NULL);
        if (ctx && !ctx->active_fingerprint) {
            fail("no active fingerprint for %s", argv[1]);
        } else if (ctx) {
            otrl_context_set_trust(ctx->active_fingerprint, level);
        }
        free(level);
    } else if (strcmp(cmd, "status") == 0) {
        otrl_instag_t instag;
        ConnContext *ctx;
        NEED(2, "status <buddy> [instag]");
        if (!need_account()) return 0;
        if (!parse_instag(argc >= 3 ? argv[2] : NULL, &instag)) {
            fail("bad instance tag");
            return 0;
        }
        ctx = otrl_context_find(otr.us, argv[1], account, protocol, instag, 0,
                NULL, NULL, NULL);
        if (ctx) emit_context("status", ctx);
        else emit("status none");
    } else if (strcmp(cmd, "contexts") == 0) {
        ConnContext *master, *c;
        NEED(2, "contexts <buddy>");
        if (!need_account()) return 0;
        master = otrl_context_find(otr.us, argv[1], account, protocol,
                OTRL_INSTAG_MASTER, 0, NULL, NULL, NULL);
        for (c = master; c && c->m_context == master; c = c->next) {
            emit_context("context", c);
        }
    } else if (strcmp(cmd, "fingerprints") == 0) {
        ConnContext *master;
        Fingerprint *f;
        NEED(2, "fingerprints <buddy>");
        if (!need_account()) return 0;
        master = otrl_context_find(otr.us, argv[1], account, protocol,
                OTRL_INSTAG_MASTER, 0, NULL, NULL, NULL);
        for (f = master ? master->fingerprint_root.next : NULL; f;
                f = f->next) {
            char *fp = hex_of(f->fingerprint, 20);
            char *tr = hex_of_str(f->trust);
            emit("fp %s %s", fp, tr);
            free(fp);
            free(tr);
        }
    } else if (strcmp(cmd, "ourfp") == 0) {
        emit_our_fingerprint("ourfp");
    } else if (strcmp(cmd, "instag") == 0) {
        emit_instag();
    } else if (strcmp(cmd, "symkey") == 0) {
        ConnContext *ctx;
        unsigned char *usedata;
        size_t usedatalen;
        unsigned char key[OTRL_EXTRAKEY_BYTES];
        long use;
        gcry_error_t err;
        NEED(4, "symkey <buddy> <use> <hex-usedata> [instag]");
        if (!need_account()) return 0;
        if (!parse_int(argv[2], 0, 0xffffffffL, &use)) {
            fail("bad use");
            return 0;
        }
        usedata = unhex(argv[3], &usedatalen);
        if (!usedata) { fail("bad hex"); return 0; }
        ctx = find_context(argv[1], argc >= 5 ? argv[4] : NULL);
        if (ctx) {
            err = otrl_message_symkey(otr.us, &otr_common_ops, &otr, ctx,
                    (unsigned int)use, usedata, usedatalen, key);
            if (err) {
                fail_gcry("otrl_message_symkey", err);
            } else {
                char *k = hex_of(key, sizeof(key));
                emit("symkey %s", k);
                free(k);
            }
        }
        free(usedata);
    } else {
        fail("unknown command '%s'", cmd);
    }
    return 0;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    /* A driver that went away must not leave us killed half-way by
     * SIGPIPE while libotr writes files; we exit on the read side. */
    signal(SIGPIPE, SIG_IGN);
    umask(077);

    OTRL_INIT;
    otr.us = otrl_userstate_create();
    otr.hooks = &peer_hooks;

    while ((n = getline(&line, &cap, stdin)) >= 0) {
        int quit;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (memchr(line, '\0', (size_t)n)) {
            fail("NUL byte in command line");
            emit("done");
            continue;
        }
        quit = dispatch(line);
        emit("done");
        if (quit) break;
    }

    free(line);
    otrl_userstate_free(otr.us);
    free(account);
    free(protocol);
    free(otr.keyfile);
    free(otr.instagfile);
    free(otr.fpfile);
    free(otr.resent_prefix);
    return 0;
}