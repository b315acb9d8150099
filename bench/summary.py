# SPDX-License-Identifier: MIT
#
# Summarise bench.sh's samples: min/median/max per (profile, mode, metric),
# each median as a ratio to kernel VXLAN's from the same run; print a table,
# write summary.csv and a gnuplot script (bench.gp -> bench.png).
#
# usage: summary.py results.csv OUTDIR GATE "machine/date line"
import csv
import math
import statistics
import sys

METRICS = [
    ("tcp1_fwd", "TCP 1 stream pc1->pc2", "Gbit/s"),
    ("tcp1_retr", "TCP 1 stream retransmissions", "per 1000"),
    ("tcp1_rev", "TCP 1 stream pc2->pc1", "Gbit/s"),
    ("tcp4_fwd", "TCP 4 streams pc1->pc2", "Gbit/s"),
    ("tcp4_rev", "TCP 4 streams pc2->pc1", "Gbit/s"),
    ("pps64_k", "64-byte frames delivered", "kpps"),
    ("rtt_idle_p50", "RTT idle p50", "ms"),
    ("rtt_idle_p99", "RTT idle p99", "ms"),
    ("rtt_load_p50", "RTT under 1 TCP stream p50", "ms"),
    ("rtt_load_p99", "RTT under 1 TCP stream p99", "ms"),
    ("cpu_machine", "machine CPU during TCP 1", "% of all"),
    ("cpu_r1", "r1 daemon CPU during TCP 1", "% of a core"),
    ("cpu_r2", "r2 daemon CPU during TCP 1", "% of a core"),
    ("cpu_daemon", "busier daemon CPU, TCP 1", "% of a core"),
    ("cpu_per_gbit", "busier daemon CPU per Gbit/s", "% core"),
    ("cpu_both_per_gbit", "both daemons CPU per Gbit/s", "% core"),
    ("cpu_pps_machine", "machine CPU during 64-byte", "% of all"),
    ("cpu_pps_r1", "r1 daemon CPU during 64-byte", "% of a core"),
    ("cpu_pps_r2", "r2 daemon CPU during 64-byte", "% of a core"),
    ("cpu_per_100kpps", "busier daemon CPU per 100 kpps", "% core"),
    ("cpu_both_per_100kpps", "both daemons CPU per 100 kpps", "% core"),
    ("rss_mb", "daemon RSS", "MiB"),
]
MODES = ["routing", "vxlan", "l2tpv3d"]
# bigger is better for these (ratio shown as is); for the others the ratio is
# still ours/VXLAN (lower is better)
PROFILES = [("nic", "NIC-like WAN"), ("veth", "plain veth WAN")]


def main():
    path, outdir, gate, machine = sys.argv[1:5]
    data = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            try:
                v = float(row["value"])
            except ValueError:
                continue
            if math.isnan(v):
                continue
            data.setdefault((row["profile"], row["mode"], row["metric"]), []).append(v)

    # l2tpv3d variants (l2tpv3d:qN) get their own columns
    extra = sorted({key[1] for key in data if key[1].startswith(("l2tpv3d:", "l2tpv3d@"))})
    modes = MODES + extra

    def stats(p, m, k):
        vals = data.get((p, m, k))
        if not vals:
            return None
        return min(vals), statistics.median(vals), max(vals)

    rows = []
    print()
    print(f"l2tpv3d data path benchmark: {machine}; correctness gate: {gate}")
    hdr = f"{'figure':34} {'unit':11} {'routing':>9} {'vxlan':>9} {'l2tpv3d med [min-max]':>24} {'l2tp/vxlan':>10}"
    for p, pname in PROFILES:
        if not any(key[0] == p for key in data):
            continue
        print()
        print(f"== {pname}")
        print(hdr)
        for k, label, unit in METRICS:
            st = {m: stats(p, m, k) for m in modes}
            if not any(st.values()):
                continue
            ratio = ""
            if st["l2tpv3d"] and st["vxlan"] and st["vxlan"][1] > 0:
                ratio = f"{st['l2tpv3d'][1] / st['vxlan'][1]:.2f}x"
            rratio = ""
            if st["routing"] and st["vxlan"] and st["vxlan"][1] > 0:
                rratio = f"{st['routing'][1] / st['vxlan'][1]:.2f}"

            def med(m):
                return f"{st[m][1]:.3g}" if st[m] else "-"

            l2 = st["l2tpv3d"]
            l2s = f"{l2[1]:.3g} [{l2[0]:.3g}-{l2[2]:.3g}]" if l2 else "-"
            print(f"{label:34} {unit:11} {med('routing'):>9} {med('vxlan'):>9} {l2s:>24} {ratio:>10}")
            for m in extra:
                if st[m]:
                    vr = ""
                    if st["vxlan"] and st["vxlan"][1] > 0:
                        vr = "%.2fx" % (st[m][1] / st["vxlan"][1])
                    v = "%.3g [%.3g-%.3g]" % (st[m][1], st[m][0], st[m][2])
                    print(f"{'  ' + m:34} {unit:11} {'':>9} {'':>9} {v:>24} {vr:>10}")
            rows.append([p, k, unit] + [f"{x:.4g}" if x is not None else ""
                                        for m in MODES for x in (st[m] or (None, None, None))]
                        + [ratio.rstrip("x"), rratio])
    with open(f"{outdir}/summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["profile", "metric", "unit"]
                   + [f"{m}_{s}" for m in MODES for s in ("min", "median", "max")]
                   + ["l2tpv3d_over_vxlan", "routing_over_vxlan"])
        w.writerows(rows)

    # plot: ratios to VXLAN (throughput, frames) and RTT p99 under load
    bars = ["tcp1_fwd", "tcp1_rev", "tcp4_fwd", "tcp4_rev", "pps64_k"]
    with open(f"{outdir}/ratios.dat", "w") as f:
        f.write("label routing l2tpv3d\n")
        for p, pname in PROFILES:
            for k in bars:
                st = {m: stats(p, m, k) for m in MODES}
                if not st["vxlan"] or st["vxlan"][1] <= 0:
                    continue
                r = [st[m][1] / st["vxlan"][1] if st[m] else 0 for m in ("routing", "l2tpv3d")]
                f.write(f'"{p}:{k}" {r[0]:.3f} {r[1]:.3f}\n')
    with open(f"{outdir}/rtt.dat", "w") as f:
        f.write("label routing vxlan l2tpv3d\n")
        for p, pname in PROFILES:
            st = {m: stats(p, m, "rtt_load_p99") for m in MODES}
            if not any(st.values()):
                continue
            f.write(f'"{p}" ' + " ".join(f"{st[m][1]:.3f}" if st[m] else "0" for m in MODES) + "\n")
    with open(f"{outdir}/bench.gp", "w") as f:
        f.write(f"""set terminal pngcairo size 1400,600 noenhanced
set output '{outdir}/bench.png'
set multiplot layout 1,2 title "l2tpv3d vs kernel VXLAN (= 1.0): {machine}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set grid ytics
set xtics rotate by -30
set ylabel 'median / VXLAN median'
set title 'throughput and 64-byte frames, ratio to VXLAN'
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
plot '{outdir}/ratios.dat' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)
unset arrow
set title 'RTT p99 under one TCP stream (ms, log scale)'
set ylabel 'ms'
set autoscale y
set logscale y
set xtics norotate
plot '{outdir}/rtt.dat' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), '' using 4 title columnheader(4)
unset multiplot
""")


if __name__ == "__main__":
    main()
