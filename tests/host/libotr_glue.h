/*
 * libotr_glue: the real libotr 4.1.x driving one or more accounts of the test host, wired
 * into libpurple the way pidgin-otr wires it (sending-im-msg / receiving-im-msg). Compiled
 * into purple_host only when libotr's development files are present (-DWITH_LIBOTR), together
 * with the libotr callback table it shares with tests/peer/otr_peer.c
 * (tests/libotr_common/otr_common.c).
 *
 * Commands (arguments percent-encoded like every host command):
 *   otr_enable USER KEYFILE INSTAGFILE FPFILE POLICY
 *       read the key, instance tag and fingerprint files (those that exist) into a libotr
 *       user state for account USER and run libotr on its IMs from now on. POLICY:
 *       never|manual|opportunistic|always or a number (libotr's OtrlPolicy bits).
 *       Reply: fp= (our fingerprint, 40 hex) instag= (8 hex, "-" if none yet)
 *   otr_start USER WHO                  inject libotr's default query message
 *   otr_end USER WHO                    otrl_message_disconnect (best instance)
 *   otr_status USER WHO                 msgstate= version= their= fp= trust= smp=
 *   otr_smp_start USER WHO QUESTION|- SECRET
 *   otr_smp_respond USER WHO SECRET
 *   otr_ourfp USER                      fp= human=
 *
 * Events: ev otr account=USER kind=KIND who=BUDDY ... with KIND one of
 *   gone_secure, gone_insecure, still_secure (is_reply=), new_fingerprint (fp=),
 *   smp (event= progress= question=), msg (event= message= err=), finished (the buddy
 *   sent the disconnect TLV), create_privkey, create_instag.
 */
#ifndef PURPLE_OTR_TEST_LIBOTR_GLUE_H
#define PURPLE_OTR_TEST_LIBOTR_GLUE_H

#include <glib.h>

/* Runs ARGV[0] if it is one of the commands above (and answers it); FALSE otherwise. */
gboolean libotr_glue_dispatch(char **argv, int argc);

#endif
