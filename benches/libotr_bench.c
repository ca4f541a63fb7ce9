/*
 * libotr's half of the side-by-side benchmark (benches/compare.rs is ours;
 * benches/run.sh runs both and prints the comparison).
 *
 * Two OTR users, Alice and Bob, each with an OtrlUserState of their own, live
 * in this one process; what libotr injects is queued and delivered in FIFO
 * order until nothing is in flight, the same way compare.rs drives two of our
 * sessions. Both harnesses use the libotr test keys and instance tags in
 * tests/fixtures/libotr, the same message texts, sizes and sample plans.
 *
 * Usage: libotr_bench <fixtures-dir> time [keygen|ake|roundtrip|oneway|smp|fragments]
 *        libotr_bench <fixtures-dir> mem <n>
 *        libotr_bench <fixtures-dir> cg <ake|roundtrip|oneway|smp|fragments>
 * Output: lines "libotr <name> <value> <unit>".
 *
 * Build: cc -O2 -o libotr_bench libotr_bench.c $(pkg-config --cflags --libs libotr) -lgcrypt
 */

#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* proto.h must precede the other libotr headers. */
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/tlv.h>
#include <libotr/userstate.h>

/* Keep these in step with compare.rs. */
#define MSG_LEN 140
#define BIG_LEN (20 * 1024)
#define FRAGMENT_MMS 1000
#define ROUND_TRIPS_PER_SAMPLE 10
#define ONE_WAY_PER_SAMPLE 50
#define CG_MESSAGES 200
#define CG_WARM_UP 20
#define SMP_SECRET "the name of our first cat"

#define PROTO "prpl-jabber"
#define ALICE_ACCOUNT "alice@localhost/peer"
#define BOB_ACCOUNT "bob@localhost/peer"

typedef struct {
    int min, max;
    double budget; /* seconds */
} Plan;

static const Plan PLAN_KEYGEN = {9, 101, 6.0};
static const Plan PLAN_AKE = {21, 2001, 3.0};
static const Plan PLAN_ROUNDTRIP = {21, 2001, 3.0};
static const Plan PLAN_ONEWAY = {21, 2001, 2.0};
static const Plan PLAN_SMP = {15, 2001, 3.0};
static const Plan PLAN_FRAGMENTS = {21, 2001, 2.0};

enum { A = 0, B = 1 };

typedef struct {
    int idx;
    OtrlUserState us;
    const char *account;
    const char *buddy;
    int mms;
    size_t last_shown; /* length of the last message displayed */
    size_t shown;      /* messages displayed */
    OtrlSMPEvent smp;  /* last SMP event */
    ConnContext *smp_ctx;
} Party;

static Party parties[2];

/* ---- the link: a FIFO of (recipient, message) ---------------------------- */

typedef struct Flight {
    struct Flight *next;
    int to;
    char *msg;
} Flight;

static Flight *head, *tail;

static void die(const char *what)
{
    fprintf(stderr, "libotr_bench: %s\n", what);
    exit(1);
}

static void enqueue(int to, const char *msg)
{
    Flight *f = malloc(sizeof *f);
    if (!f || !(f->msg = strdup(msg))) die("out of memory");
    f->next = NULL;
    f->to = to;
    if (tail) tail->next = f; else head = f;
    tail = f;
}

/* ---- libotr callbacks --------------------------------------------------- */

static OtrlPolicy cb_policy(void *opdata, ConnContext *context)
{
    (void)opdata; (void)context;
    return OTRL_POLICY_MANUAL;
}

static int cb_is_logged_in(void *opdata, const char *accountname,
        const char *protocol, const char *recipient)
{
    (void)opdata; (void)accountname; (void)protocol; (void)recipient;
    return 1;
}

static void cb_inject_message(void *opdata, const char *accountname,
        const char *protocol, const char *recipient, const char *message)
{
    Party *p = opdata;
    (void)accountname; (void)protocol; (void)recipient;
    enqueue(1 - p->idx, message);
}

static void cb_noop_ctx(void *opdata, ConnContext *context)
{
    (void)opdata; (void)context;
}

static void cb_noop(void *opdata)
{
    (void)opdata;
}

static void cb_new_fingerprint(void *opdata, OtrlUserState us,
        const char *accountname, const char *protocol, const char *username,
        unsigned char fingerprint[20])
{
    (void)opdata; (void)us; (void)accountname; (void)protocol; (void)username;
    (void)fingerprint;
}

static void cb_still_secure(void *opdata, ConnContext *context, int is_reply)
{
    (void)opdata; (void)context; (void)is_reply;
}

static int cb_max_message_size(void *opdata, ConnContext *context)
{
    (void)context;
    return ((Party *)opdata)->mms;
}

static const char *cb_account_name(void *opdata, const char *account,
        const char *protocol)
{
    (void)opdata; (void)protocol;
    return strdup(account);
}

static void cb_free_str(void *opdata, const char *s)
{
    (void)opdata;
    free((char *)s);
}

static const char *cb_otr_error_message(void *opdata, ConnContext *context,
        OtrlErrorCode code)
{
    (void)opdata; (void)context; (void)code;
    return strdup("error");
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent event,
        ConnContext *context, unsigned short progress, char *question)
{
    Party *p = opdata;
    (void)progress; (void)question;
    p->smp = event;
    p->smp_ctx = context;
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent event,
        ConnContext *context, const char *message, gcry_error_t err)
{
    (void)opdata; (void)context; (void)message; (void)err;
    /* Heartbeats are normal; anything else means the workload went wrong. */
    if (event != OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD &&
            event != OTRL_MSGEVENT_LOG_HEARTBEAT_SENT) {
        fprintf(stderr, "libotr_bench: unexpected message event %d\n",
                (int)event);
        exit(1);
    }
}

static void cb_create_instag(void *opdata, const char *accountname,
        const char *protocol)
{
    (void)opdata; (void)accountname; (void)protocol;
    die("no instance tag loaded");
}

static void cb_create_privkey(void *opdata, const char *accountname,
        const char *protocol)
{
    (void)opdata; (void)accountname; (void)protocol;
    die("no private key loaded");
}

static void cb_received_symkey(void *opdata, ConnContext *context,
        unsigned int use, const unsigned char *usedata, size_t usedatalen,
        const unsigned char *symkey)
{
    (void)opdata; (void)context; (void)use; (void)usedata; (void)usedatalen;
    (void)symkey;
}

static void cb_timer_control(void *opdata, unsigned int interval)
{
    (void)opdata; (void)interval;
}

static OtrlMessageAppOps ops = {
    .policy = cb_policy,
    .create_privkey = cb_create_privkey,
    .is_logged_in = cb_is_logged_in,
    .inject_message = cb_inject_message,
    .update_context_list = cb_noop,
    .new_fingerprint = cb_new_fingerprint,
    .write_fingerprints = cb_noop,
    .gone_secure = cb_noop_ctx,
    .gone_insecure = cb_noop_ctx,
    .still_secure = cb_still_secure,
    .max_message_size = cb_max_message_size,
    .account_name = cb_account_name,
    .account_name_free = cb_free_str,
    .received_symkey = cb_received_symkey,
    .otr_error_message = cb_otr_error_message,
    .otr_error_message_free = cb_free_str,
    .resent_msg_prefix = NULL,
    .resent_msg_prefix_free = NULL,
    .handle_smp_event = cb_handle_smp_event,
    .handle_msg_event = cb_handle_msg_event,
    .create_instag = cb_create_instag,
    .convert_msg = NULL,
    .convert_free = NULL,
    .timer_control = cb_timer_control,
};

/* ---- driving the two parties --------------------------------------------- */

static void deliver_one(int to, char *msg)
{
    Party *p = &parties[to];
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore = otrl_message_receiving(p->us, &ops, p, p->account, PROTO,
            p->buddy, msg, &newmsg, &tlvs, NULL, NULL, NULL);
    if (!ignore) {
        p->last_shown = strlen(newmsg ? newmsg : msg);
        p->shown++;
    }
    otrl_tlv_free(tlvs);
    otrl_message_free(newmsg);
}

/* Delivers until nothing is in flight. */
static void run(void)
{
    while (head) {
        Flight *f = head;
        head = f->next;
        if (!head) tail = NULL;
        deliver_one(f->to, f->msg);
        free(f->msg);
        free(f);
    }
}

static void send_text(int who, const char *text)
{
    Party *p = &parties[who];
    char *newmsg = NULL;
    /* SEND_ALL: libotr injects what it made (fragments included) itself. */
    gcry_error_t err = otrl_message_sending(p->us, &ops, p, p->account, PROTO,
            p->buddy, OTRL_INSTAG_BEST, text, NULL, &newmsg,
            OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (err) die("otrl_message_sending failed");
    if (!newmsg) enqueue(1 - who, text);
    otrl_message_free(newmsg);
}

static ConnContext *best(int who)
{
    Party *p = &parties[who];
    return otrl_context_find(p->us, p->buddy, p->account, PROTO,
            OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
}

static int is_private(int who)
{
    ConnContext *c = best(who);
    return c && c->msgstate == OTRL_MSGSTATE_ENCRYPTED;
}

static int both_private(void)
{
    return is_private(A) && is_private(B);
}

/* From Alice's query message to both sides private (pidgin-otr's "Start
 * private conversation" injects the default query message the same way). */
static void ake(void)
{
    char *query = otrl_proto_default_query_msg(parties[A].account,
            OTRL_POLICY_MANUAL);
    if (!query) die("no query message");
    enqueue(B, query);
    free(query);
    run();
}

static void forget_all(void)
{
    otrl_context_forget_all(parties[A].us);
    otrl_context_forget_all(parties[B].us);
}

static void establish(void)
{
    forget_all();
    ake();
    if (!both_private()) die("the AKE did not make both sides private");
    parties[A].shown = parties[B].shown = 0;
    parties[A].last_shown = parties[B].last_shown = 0;
}

static void smp(void)
{
    ConnContext *ctx = best(A);
    parties[A].smp = parties[B].smp = OTRL_SMPEVENT_NONE;
    parties[B].smp_ctx = NULL;
    otrl_message_initiate_smp(parties[A].us, &ops, &parties[A], ctx,
            (const unsigned char *)SMP_SECRET, strlen(SMP_SECRET));
    run();
    if (parties[B].smp != OTRL_SMPEVENT_ASK_FOR_SECRET || !parties[B].smp_ctx)
        die("SMP: Bob was not asked for the secret");
    otrl_message_respond_smp(parties[B].us, &ops, &parties[B],
            parties[B].smp_ctx, (const unsigned char *)SMP_SECRET,
            strlen(SMP_SECRET));
    run();
}

static int smp_succeeded(void)
{
    return parties[A].smp == OTRL_SMPEVENT_SUCCESS &&
        parties[B].smp == OTRL_SMPEVENT_SUCCESS;
}

/* The same chat text compare.rs builds. */
static char *text(size_t len)
{
    char *t = malloc(len + 1);
    size_t i;
    if (!t) die("out of memory");
    for (i = 0; i < len; i++) t[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 26);
    t[len] = '\0';
    return t;
}

static void setup(const char *fixtures)
{
    char path[4096];
    int i;
    const char *names[2] = {"alice", "bob"};

    OTRL_INIT;
    /* As pidgin-otr does: key generation does not wait for /dev/random. */
    gcry_control(GCRYCTL_ENABLE_QUICK_RANDOM, 0);
    for (i = 0; i < 2; i++) {
        Party *p = &parties[i];
        p->idx = i;
        p->us = otrl_userstate_create();
        p->account = i == A ? ALICE_ACCOUNT : BOB_ACCOUNT;
        p->buddy = i == A ? BOB_ACCOUNT : ALICE_ACCOUNT;
        snprintf(path, sizeof path, "%s/%s.private_key", fixtures, names[i]);
        if (otrl_privkey_read(p->us, path)) die("cannot read a private key");
        snprintf(path, sizeof path, "%s/%s.instance_tags", fixtures, names[i]);
        if (otrl_instag_read(p->us, path)) die("cannot read an instance tag");
    }
}

/* ---- timing ---------------------------------------------------------------- */

/* Wall time, for the sampling budget only. */
static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* What is measured: this thread's CPU time, so that time slices stolen by
 * other processes on a shared machine are not charged to the workload
 * (compare.rs measures the same clock). */
static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        die("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0) return 0.0 / 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef double (*SampleFn)(void *arg);

/* Samples per plan (the budget is wall time); each call of f returns the CPU
 * seconds of one operation. */
static double sample(Plan plan, SampleFn f, void *arg)
{
    double start = wall_s(), m;
    double *v = malloc(sizeof(double) * plan.max);
    int n = 0;
    if (!v) die("out of memory");
    while (n < plan.min || (n < plan.max && wall_s() - start < plan.budget)) {
        v[n++] = f(arg);
    }
    m = median(v, n);
    free(v);
    return m;
}

static void report(const char *name, double value, const char *unit)
{
    printf("libotr %s %.3f %s\n", name, value, unit);
    fflush(stdout);
}

static double s_keygen(void *arg)
{
    void *newkey = NULL;
    double t;
    (void)arg;
    if (otrl_privkey_generate_start(parties[A].us, "keygen@localhost", PROTO,
                &newkey) || !newkey)
        die("otrl_privkey_generate_start failed");
    t = now_s();
    if (otrl_privkey_generate_calculate(newkey))
        die("otrl_privkey_generate_calculate failed");
    t = now_s() - t;
    otrl_privkey_generate_cancelled(parties[A].us, newkey);
    return t;
}

static double s_ake(void *arg)
{
    double t;
    (void)arg;
    forget_all();
    t = now_s();
    ake();
    t = now_s() - t;
    if (!both_private()) die("the AKE did not make both sides private");
    return t;
}

typedef struct {
    const char *msg;
    double *sends;
    int nsends, cap;
} RoundTrip;

static double s_roundtrip(void *arg)
{
    RoundTrip *rt = arg;
    double t = now_s();
    int i, who;
    for (i = 0; i < ROUND_TRIPS_PER_SAMPLE; i++) {
        for (who = A; who <= B; who++) {
            double s = now_s();
            send_text(who, rt->msg);
            s = now_s() - s;
            if (rt->nsends < rt->cap) rt->sends[rt->nsends++] = s;
            run();
        }
    }
    return (now_s() - t) / ROUND_TRIPS_PER_SAMPLE;
}

static double s_oneway(void *arg)
{
    const char *msg = arg;
    double t = now_s();
    int i;
    for (i = 0; i < ONE_WAY_PER_SAMPLE; i++) {
        send_text(A, msg);
        run();
    }
    return (now_s() - t) / ONE_WAY_PER_SAMPLE;
}

static double s_smp(void *arg)
{
    double t = now_s();
    (void)arg;
    smp();
    t = now_s() - t;
    if (!smp_succeeded()) die("SMP did not succeed on both sides");
    return t;
}

static double s_fragments(void *arg)
{
    const char *big = arg;
    size_t before = parties[B].shown;
    double t = now_s();
    send_text(A, big);
    run();
    t = now_s() - t;
    if (parties[B].shown != before + 1 || parties[B].last_shown != BIG_LEN)
        die("the fragmented message was not reassembled");
    return t;
}

/* Times one workload (NULL: all of them); 0 if the name is unknown. */
static int time_all(const char *only)
{
    static const char *workloads[] = {"keygen", "ake", "roundtrip", "oneway",
        "smp", "fragments"};
    char *msg = text(MSG_LEN), *big = text(BIG_LEN);
    int i, known = 0;

    for (i = 0; i < 6; i++) {
        const char *w = workloads[i];
        if (only && strcmp(only, w) != 0) continue;
        known = 1;
        if (strcmp(w, "keygen") == 0) {
            report("keygen", sample(PLAN_KEYGEN, s_keygen, NULL) * 1e3, "ms");
        } else if (strcmp(w, "ake") == 0) {
            report("ake", sample(PLAN_AKE, s_ake, NULL) * 1e3, "ms");
        } else if (strcmp(w, "roundtrip") == 0) {
            /* Alternating directions; the send call alone is timed too. */
            RoundTrip rt = {msg, NULL, 0,
                PLAN_ROUNDTRIP.max * ROUND_TRIPS_PER_SAMPLE * 2};
            establish();
            rt.sends = malloc(sizeof(double) * rt.cap);
            if (!rt.sends) die("out of memory");
            report("roundtrip", sample(PLAN_ROUNDTRIP, s_roundtrip, &rt) * 1e6,
                    "us");
            if (parties[A].last_shown != MSG_LEN ||
                    parties[B].last_shown != MSG_LEN)
                die("round-trip messages did not arrive");
            report("send_140b", median(rt.sends, rt.nsends) * 1e6, "us");
            free(rt.sends);
        } else if (strcmp(w, "oneway") == 0) {
            establish();
            report("oneway", sample(PLAN_ONEWAY, s_oneway, msg) * 1e6, "us");
            if (parties[B].last_shown != MSG_LEN)
                die("one-way messages did not arrive");
        } else if (strcmp(w, "smp") == 0) {
            establish();
            report("smp", sample(PLAN_SMP, s_smp, NULL) * 1e3, "ms");
        } else if (strcmp(w, "fragments") == 0) {
            establish();
            parties[A].mms = FRAGMENT_MMS;
            report("fragments_20k",
                    sample(PLAN_FRAGMENTS, s_fragments, big) * 1e6, "us");
            parties[A].mms = 0;
        }
    }
    free(msg);
    free(big);
    return known;
}

/* ---- memory ------------------------------------------------------------------ */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static size_t rss_bytes(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%*s %ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* n buddies of Alice's, each private with her (Bob's side is forgotten after
 * each AKE, as if remote): master + child ConnContext per buddy, the child
 * ENCRYPTED. */
static void mem(int n)
{
    char **names = malloc(sizeof(char *) * n);
    size_t heap0, rss0, heap1, rss1;
    int i;

    if (n <= 0 || !names) die("bad session count");
    for (i = 0; i < n; i++) {
        if (asprintf(&names[i], "bob%06d@localhost/peer", i) < 0)
            die("out of memory");
    }
    establish(); /* warm up */
    forget_all();
    heap0 = heap_in_use();
    rss0 = rss_bytes();
    for (i = 0; i < n; i++) {
        parties[A].buddy = names[i];
        ake();
        if (!both_private()) die("the AKE did not make both sides private");
        otrl_context_forget_all(parties[B].us);
    }
    heap1 = heap_in_use();
    rss1 = rss_bytes();
    for (i = 0; i < n; i++) {
        parties[A].buddy = names[i];
        if (!is_private(A)) die("a kept session is not private");
    }
    report("session_heap", (double)(heap1 - heap0) / n, "B");
    report("rss_sessions", (double)(rss1 - rss0) / 1024.0, "KiB");
}

/* ---- callgrind ------------------------------------------------------------- */

__attribute__((noinline)) static void cg_workload_ake(void)
{
    ake();
}

__attribute__((noinline)) static void cg_workload_roundtrip(const char *msg)
{
    int i;
    for (i = 0; i < CG_MESSAGES; i++) {
        send_text(i % 2, msg);
        run();
    }
}

__attribute__((noinline)) static void cg_workload_oneway(const char *msg)
{
    int i;
    for (i = 0; i < CG_MESSAGES; i++) {
        send_text(A, msg);
        run();
    }
}

__attribute__((noinline)) static void cg_workload_smp(void)
{
    smp();
}

__attribute__((noinline)) static void cg_workload_fragments(const char *big)
{
    send_text(A, big);
    run();
}

/* One-way messages before a one-way run is counted: the steady state, as in
 * the timed runs, not the first key derivations after the AKE. */
static void warm_up(const char *msg)
{
    int i;
    for (i = 0; i < CG_WARM_UP; i++) {
        send_text(A, msg);
        run();
    }
    parties[A].shown = parties[B].shown = 0;
}

static int callgrind(const char *w)
{
    char *msg = text(MSG_LEN), *big = text(BIG_LEN);
    if (strcmp(w, "ake") == 0) {
        cg_workload_ake();
        if (!both_private()) die("the AKE did not make both sides private");
    } else if (strcmp(w, "roundtrip") == 0) {
        establish();
        cg_workload_roundtrip(msg);
        if (parties[A].shown != CG_MESSAGES / 2 ||
                parties[B].shown != CG_MESSAGES / 2)
            die("messages did not arrive");
    } else if (strcmp(w, "oneway") == 0) {
        establish();
        warm_up(msg);
        cg_workload_oneway(msg);
        if (parties[B].shown != CG_MESSAGES) die("messages did not arrive");
    } else if (strcmp(w, "smp") == 0) {
        establish();
        cg_workload_smp();
        if (!smp_succeeded()) die("SMP did not succeed on both sides");
    } else if (strcmp(w, "fragments") == 0) {
        establish();
        warm_up(msg);
        parties[A].mms = FRAGMENT_MMS;
        cg_workload_fragments(big);
        if (parties[B].last_shown != BIG_LEN) die("the message was not reassembled");
    } else {
        return 0;
    }
    free(msg);
    free(big);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fixtures-dir> time [workload] | mem <n> | cg <workload>\n",
                argv[0]);
        return 2;
    }
    setup(argv[1]);
    if (strcmp(argv[2], "time") == 0) {
        if (!time_all(argc > 3 ? argv[3] : NULL)) {
            fprintf(stderr, "libotr_bench: unknown workload\n");
            return 2;
        }
    } else if (strcmp(argv[2], "mem") == 0) {
        mem(argc > 3 ? atoi(argv[3]) : 10000);
    } else if (strcmp(argv[2], "cg") == 0) {
        if (argc < 4 || !callgrind(argv[3])) {
            fprintf(stderr, "libotr_bench: unknown callgrind workload\n");
            return 2;
        }
    } else {
        fprintf(stderr, "libotr_bench: unknown mode %s\n", argv[2]);
        return 2;
    }
    return 0;
}
