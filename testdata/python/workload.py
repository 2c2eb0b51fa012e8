"""A deterministic Python workload for tests/dynamic_test.go.

Usage: workload.py INPUT WORKDIR

INPUT is a small CSV file (mounted read-only into the guest) with the header
"name,dept,salary,joined" and one employee per line. WORKDIR is an existing,
empty, writable directory (the guest's /tmp, or a fresh host directory when
run natively). Everything printed depends only on INPUT: no paths, no current
time, no dict/set order that hash randomisation could change (the test sets
PYTHONHASHSEED=0 anyway), so native and sandboxed runs must print exactly the
same bytes.
"""

import collections
import datetime
import decimal
import hashlib
import json
import os
import re
import sqlite3
import sys


def section(title):
    print("== " + title)


def main():
    if len(sys.argv) != 3:
        print("usage: workload.py INPUT WORKDIR", file=sys.stderr)
        return 2
    input_path, workdir = sys.argv[1], sys.argv[2]

    # --- reading the mounted input -------------------------------------
    with open(input_path, "rb") as f:
        raw = f.read()
    section("input")
    # The test sets PYTHONHASHSEED=0 in both runs; show that it arrived.
    print("hashseed", os.environ.get("PYTHONHASHSEED"), "randomized", sys.flags.hash_randomization)
    print("bytes", len(raw))
    print("sha256", hashlib.sha256(raw).hexdigest())
    print("md5", hashlib.md5(raw).hexdigest())
    text = raw.decode("utf-8")
    lines = text.splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
    print("columns", header)
    print("rows", len(rows))

    # --- re --------------------------------------------------------------
    section("re")
    date_re = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
    name_re = re.compile(r"^([A-Z])[a-z]+(?: ([A-Z])[a-z]+)?$")
    for r in rows:
        m = name_re.match(r["name"])
        initials = "".join(g for g in m.groups() if g) if m else "?"
        ok = bool(date_re.match(r["joined"]))
        print(f"{r['name']:<18} initials={initials:<3} date_ok={ok}")
    words = re.findall(r"[a-z]+", text.lower())
    print("vowel-words", sorted(set(w for w in words if re.fullmatch(r"[aeiou]\w*", w))))
    print("sub", re.sub(r"(\d+)", lambda m: str(int(m.group(1)) * 2), "a1b22c333"))

    # --- collections -----------------------------------------------------
    section("collections")
    by_dept = collections.defaultdict(list)
    for r in rows:
        by_dept[r["dept"]].append(r["name"])
    for dept in sorted(by_dept):
        print(dept, sorted(by_dept[dept]))
    letters = collections.Counter(c for c in text.lower() if c.isalpha())
    # most_common breaks ties by first occurrence, which is deterministic;
    # sort explicitly anyway so the order does not depend on that detail.
    print("letters", sorted(letters.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
    Emp = collections.namedtuple("Emp", "name dept")
    print(Emp(rows[0]["name"], rows[0]["dept"]))
    dq = collections.deque(range(5), maxlen=5)
    dq.rotate(2)
    dq.append(99)
    print("deque", list(dq))
    od = collections.OrderedDict((r["name"], i) for i, r in enumerate(rows))
    od.move_to_end(rows[0]["name"])
    print("ordered", list(od)[:3], "...", list(od)[-1])

    # --- decimal ---------------------------------------------------------
    section("decimal")
    decimal.getcontext().prec = 28
    total = sum((decimal.Decimal(r["salary"]) for r in rows), decimal.Decimal(0))
    print("total", total)
    avg = (total / len(rows)).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_EVEN)
    print("average", avg)
    print("third", decimal.Decimal(1) / decimal.Decimal(3))
    print("sqrt2", decimal.Decimal(2).sqrt())
    print("raise", (decimal.Decimal("1234.565") * decimal.Decimal("1.035")).quantize(decimal.Decimal("0.01")))

    # --- datetime --------------------------------------------------------
    section("datetime")
    ref = datetime.date(2024, 1, 1)
    for r in rows:
        joined = datetime.date.fromisoformat(r["joined"])
        print(f"{r['name']:<18} {joined:%a %d %b %Y} days={(ref - joined).days} weekday={joined.isoweekday()}")
    ts = datetime.datetime(2023, 3, 14, 15, 9, 26, tzinfo=datetime.timezone.utc)
    print("iso", ts.isoformat(), "epoch", int(ts.timestamp()))
    print("plus", (ts + datetime.timedelta(days=100, hours=5)).strftime("%Y-%m-%dT%H:%M:%S%z"))

    # --- files in WORKDIR ------------------------------------------------
    section("files")
    out_json = os.path.join(workdir, "report.json")
    report = {
        "rows": len(rows),
        "total": str(total),
        "depts": {d: len(n) for d, n in sorted(by_dept.items())},
    }
    with open(out_json, "w") as f:
        json.dump(report, f, sort_keys=True, indent=2)
    with open(out_json) as f:
        back = json.load(f)
    print("json round trip", back == report, os.path.getsize(out_json))
    print(json.dumps(back, sort_keys=True))

    sub = os.path.join(workdir, "sub")
    os.mkdir(sub)
    for i in range(3):
        with open(os.path.join(sub, f"part{i}.txt"), "w") as f:
            f.write(("line %d\n" % i) * (i + 1))
    with open(os.path.join(sub, "part1.txt"), "a") as f:
        f.write("appended\n")
    os.rename(os.path.join(sub, "part2.txt"), os.path.join(sub, "renamed.txt"))
    os.remove(os.path.join(sub, "part0.txt"))
    for name in sorted(os.listdir(sub)):
        p = os.path.join(sub, name)
        with open(p, "rb") as f:
            data = f.read()
        print(name, os.path.getsize(p), hashlib.sha1(data).hexdigest())

    binpath = os.path.join(workdir, "blob.bin")
    blob = hashlib.sha512(raw).digest() * 1000
    with open(binpath, "wb") as f:
        f.write(blob)
    with open(binpath, "rb") as f:
        f.seek(512 * 64 + 3)
        chunk = f.read(16)
        f.seek(-8, os.SEEK_END)
        tail = f.read()
    print("blob", len(blob), chunk.hex(), tail.hex())

    # --- sqlite3 (in memory) ---------------------------------------------
    section("sqlite3")
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE emp (name TEXT PRIMARY KEY, dept TEXT, salary INTEGER, joined TEXT)")
    db.executemany("INSERT INTO emp VALUES (:name, :dept, :salary, :joined)", rows)
    db.commit()
    print("sqlite", sqlite3.sqlite_version_info >= (3, 0, 0))
    for row in db.execute(
        "SELECT dept, COUNT(*), SUM(salary), MAX(salary), MIN(joined) "
        "FROM emp GROUP BY dept ORDER BY SUM(salary) DESC, dept"
    ):
        print(row)
    for row in db.execute(
        "SELECT name, salary, RANK() OVER (PARTITION BY dept ORDER BY salary DESC) "
        "FROM emp ORDER BY dept, 3, name"
    ):
        print(row)
    db.execute("UPDATE emp SET salary = salary + 1000 WHERE joined < '2020-01-01'")
    print("after raise", db.execute("SELECT SUM(salary) FROM emp").fetchone())
    print("json1", db.execute("SELECT json_object('n', COUNT(*)) FROM emp").fetchone())
    db.close()

    section("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
