#!/usr/bin/env python3
"""Tables of bench/run from its results.tsv (standard library only).

  report.py results.tsv                      Markdown: the results table, the order check (with
                                             --order both) and the sanity lines
  report.py --problems results.tsv          one line per problem of the run (errors, a request
                                             that failed, totals that disagree, writer errors);
                                             nothing when the run is clean
  report.py --notes --writer-rate R results.tsv
                                             one line per measurement whose writer fell short of
                                             90 % of R (the server could not keep up)

results.tsv columns: pass scenario face rps p50_ms p99_ms requests errors rss_mb
writer_sent writer_ok writer_errors writer_rate sanity (face: rest, graphql or sql; sql = the
plain-SQL ceiling, run once per scenario).
"""
import argparse
import csv
import re
import sys

SCENARIOS = ["S1", "S2", "S3a", "S3b", "S4", "S5", "S6", "ST"]
TITLES = {"S1": "list page 1", "S2": "status+segment+tags", "S3a": "search name", "S3b": "search phone",
          "S4": "detail+stats+5 recent", "S5": "50 x 5 recent (nested)", "S6": "page 200"}
FACES = {"rest": 0, "graphql": 1, "sql": 2}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt_int(v):
    x = num(v)
    return "-" if x is None else "{:,.0f}".format(x)


def kv(line):
    return dict(re.findall(r"(\w+)=(\S+)", line or ""))


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def ceilings(rows):
    return {r["scenario"]: num(r["rps"]) for r in rows if r["face"] == "sql"}


def table(rows):
    busy = any(r["writer_ok"] not in ("", "-") for r in rows)
    passes = sorted({r["pass"] for r in rows})
    show_pass = len(passes) > 1
    ceil = ceilings(rows)
    head = (["pass"] if show_pass else []) + ["scenario", "face", "req/s", "p50 ms", "p99 ms", "errors",
                                             "server RSS MB", "SQL ceiling req/s", "x ceiling"]
    if busy:
        head += ["writer ok/errors", "writer msg/s"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if h in ("pass", "scenario", "face") else "---:"
                                                          for h in head) + "|"]
    for r in rows:
        s = r["scenario"]
        c = ceil.get(s)
        rps = num(r["rps"])
        is_sql = r["face"] == "sql"
        cells = ([r["pass"]] if show_pass else []) + [
            "%s %s" % (s, TITLES.get(s, "")), r["face"], fmt_int(r["rps"]), r["p50_ms"], r["p99_ms"], r["errors"],
            r["rss_mb"] if not is_sql else "-",
            "-" if is_sql or c is None else fmt_int(c),
            "-" if is_sql or not c or rps is None else "%.2f" % (rps / c)]
        if busy:
            cells += ["%s/%s" % (r["writer_ok"], r["writer_errors"]), r["writer_rate"]]
        out.append("| " + " | ".join(cells) + " |")
    return out


def order_check(rows):
    """forward vs reverse req/s of each scenario x face (issue 9: no scenario slows down after another ran)."""
    by = {}
    for r in rows:
        if r["face"] != "sql":
            by.setdefault((r["scenario"], r["face"]), {})[r["pass"]] = num(r["rps"])
    if not any(len(v) > 1 for v in by.values()):
        return []
    out = ["| scenario | face | forward req/s | reverse req/s | reverse / forward |", "|---|---|---:|---:|---:|"]
    for (s, face), v in sorted(by.items(), key=lambda kv_: (SCENARIOS.index(kv_[0][0]), FACES[kv_[0][1]])):
        f, b = v.get("forward"), v.get("reverse")
        ratio = "%.2f" % (b / f) if f and b is not None else "-"
        out.append("| %s | %s | %s | %s | %s |" % (s, face, fmt_int(f), fmt_int(b), ratio))
    return out


def sanity_lines(rows):
    seen, out = set(), ["| scenario | face | first response (sql: rows per statement, a count's value) |", "|---|---|---|"]
    for r in rows:
        key = (r["scenario"], r["face"])
        if key in seen:
            continue
        seen.add(key)
        out.append("| %s | %s | %s |" % (r["scenario"], r["face"], r["sanity"] or "-"))
    return out


def notes(rows, writer_rate):
    """What the run found that is not a fault of the run: a writer the server could not keep up with."""
    out = []
    for r in rows:
        wr = num(r["writer_rate"])
        if writer_rate and (wr is None or wr < 0.9 * writer_rate):
            out.append("%s %s (%s): the writer reached %s msg/s of %g (addMessage p50/p99 and lag in raw/*.writer)"
                       % (r["scenario"], r["face"], r["pass"], r["writer_rate"], writer_rate))
    return out


def problems(rows):
    out = []
    for r in rows:
        where = "%s %s (%s)" % (r["scenario"], r["face"], r["pass"])
        if r["errors"] != "0":
            out.append("%s: errors=%s" % (where, r["errors"]))
        if not num(r["rps"]):
            out.append("%s: no requests completed (see raw/)" % where)
        if r["writer_errors"] not in ("-", "", "0"):
            out.append("%s: %s addMessage requests of the writer failed" % (where, r["writer_errors"]))
    # sanity: every face answered, and the totals of a scenario agree across faces and SQL
    first = {}
    for r in rows:
        first.setdefault((r["scenario"], r["face"]), kv(r["sanity"]))
    for s in SCENARIOS:
        faces = {f: first[(s, f)] for f in FACES if (s, f) in first}
        for f, d in faces.items():
            if f != "sql" and (d.get("status") != "200" or "ERRORS" in d or "ERROR" in d):
                out.append("sanity %s %s: %s" % (s, f, " ".join("%s=%s" % x for x in d.items()) or "no answer"))
            if f == "sql" and any(k.endswith("_ERROR") for k in d):
                out.append("sanity %s sql: %s" % (s, d))
        totals = {}
        for f, d in faces.items():
            if f == "sql":
                # lists: page statement then count; the count is the last statement's value
                vals = [v for k, v in sorted(d.items()) if k.endswith("_value")]
                if vals and s not in ("S4", "S5"):
                    totals[f] = vals[-1]
            elif "total" in d:
                totals[f] = d["total"]
            elif "conversations" in d:
                totals[f] = "%s/%s" % (d["conversations"], d.get("recent"))
            elif "nested" in d:
                totals[f] = "%s/%s" % (d.get("items"), d["nested"])
        if len(set(totals.values())) > 1:
            out.append("sanity %s: totals disagree: %s" % (s, totals))
        for f, d in faces.items():
            if f != "sql" and d.get("items") == "0":
                out.append("sanity %s %s: an empty page" % (s, f))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--problems", action="store_true")
    p.add_argument("--notes", action="store_true")
    p.add_argument("--writer-rate", type=float, default=0.0)
    a = p.parse_args()
    rows = load(a.results)
    if a.problems or a.notes:
        for line in problems(rows) if a.problems else notes(rows, a.writer_rate):
            print(line)
        return
    print("\n".join(table(rows)))
    oc = order_check(rows)
    if oc:
        print("\nOrder check (issue 9: no scenario slows down after another ran):\n")
        print("\n".join(oc))
    print("\nSanity (one request per scenario and face before the load; totals must agree):\n")
    print("\n".join(sanity_lines(rows)))


if __name__ == "__main__":
    sys.exit(main())
