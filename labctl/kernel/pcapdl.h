/* libpcap, loaded when first needed.  Every labctl command used to pay for libpcap at start
 * (it pulls in libdbus, libsystemd, libgcrypt and five more: 0.6 ms of a 1.9 ms start on the
 * development machine) though only capture and `labctl ladder` use it.  The same libpcap,
 * through dlopen: the header's prototypes give each pointer its type (typeof), so a mismatch
 * is a compile error, as with a direct call.  The approach is systemd's (dlopen-*.c). */
#ifndef LABCTL_PCAPDL_H
#define LABCTL_PCAPDL_H

#include <pcap/pcap.h>

#include "base/err.h"

#define PCAPDL_FUNCS(X) \
	X(pcap_create) X(pcap_set_snaplen) X(pcap_set_promisc) X(pcap_set_immediate_mode) \
	X(pcap_set_buffer_size) X(pcap_set_tstamp_precision) X(pcap_activate) \
	X(pcap_statustostr) X(pcap_geterr) X(pcap_setnonblock) X(pcap_get_selectable_fd) \
	X(pcap_dispatch) X(pcap_stats) X(pcap_close) X(pcap_dump_open) X(pcap_dump) \
	X(pcap_dump_flush) X(pcap_dump_close) X(pcap_fopen_offline_with_tstamp_precision) \
	X(pcap_datalink) X(pcap_datalink_val_to_name) X(pcap_next_ex)

#define PCAPDL_DECLARE(f) extern __typeof__(f) *sym_##f;
PCAPDL_FUNCS(PCAPDL_DECLARE)
#undef PCAPDL_DECLARE

/* Load libpcap and every sym_pcap_* above, once per process.  0, or -ENOENT with a message
 * that names the library and the package to install. */
int pcapdl_load(struct lc_err *e);

#endif
