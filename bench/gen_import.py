"""Make a MailGoThai-style import file: 240,000 pre-hashed accounts across 2,500 agencies.

    python bench/gen_import.py --out /tmp/govid-import [--accounts 240000]

Writes ``agencies.jsonl`` (25 ministries × 9 departments × 10 offices = 2,500; one mail
domain per ministry) and ``accounts.csv`` (the ``idp accounts import`` format). Password
hashes: 60% ``{SSHA}`` and 20% ``{SSHA512}`` computed for real (password ``pw-<n>``),
10% ``{CRYPT}$6$`` and 10% bcrypt with the right shape but random digests (the import
stores hashes as they are; computing 48,000 sha512-crypt hashes would only slow the
generator). 30% of rows carry a valid 13-digit citizen ID; 20% have an alias.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import random
import string
from pathlib import Path

CRYPT64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase


def agencies() -> list[dict]:
    out = []
    for m in range(25):
        mcode = f"m{m:02d}"
        out.append(
            {"code": mcode, "name_th": f"กระทรวง {m}", "name_en": f"Ministry {m}",
             "parent": None, "mail_domains": [f"{mcode}.go.th"]}
        )  # fmt: skip
        for d in range(9):
            dcode = f"{mcode}-d{d}"
            out.append(
                {"code": dcode, "name_th": f"กรม {m}.{d}", "name_en": f"Department {m}.{d}",
                 "parent": mcode, "mail_domains": []}
            )  # fmt: skip
            for o in range(10):
                out.append(
                    {"code": f"{dcode}-o{o}", "name_th": f"สำนักงาน {m}.{d}.{o}",
                     "name_en": f"Office {m}.{d}.{o}", "parent": dcode, "mail_domains": []}
                )  # fmt: skip
    return out


def citizen_id(n: int) -> str:
    first12 = f"1{n:011d}"
    total = sum(int(c) * (13 - i) for i, c in enumerate(first12))
    return first12 + str((11 - total % 11) % 10)


def ssha(password: str, rnd: random.Random, big: bool = False) -> str:
    salt = rnd.randbytes(8)
    digest = (hashlib.sha512 if big else hashlib.sha1)(password.encode() + salt).digest()
    return ("{SSHA512}" if big else "{SSHA}") + base64.b64encode(digest + salt).decode()


def password_hash(n: int, rnd: random.Random) -> str:
    k = n % 10
    if k < 6:
        return ssha(f"pw-{n}", rnd)
    if k < 8:
        return ssha(f"pw-{n}", rnd, big=True)
    if k == 8:
        salt = "".join(rnd.choice(CRYPT64) for _ in range(16))
        return "{CRYPT}$6$" + salt + "$" + "".join(rnd.choice(CRYPT64) for _ in range(86))
    return "$2b$10$" + "".join(rnd.choice(CRYPT64) for _ in range(53))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/govid-import"))
    p.add_argument("--accounts", type=int, default=240_000)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    rnd = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    ags = agencies()
    with (args.out / "agencies.jsonl").open("w", encoding="utf-8") as f:
        for a in ags:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    columns = [
        "email", "agency", "given_name_th", "family_name_th", "given_name_en",
        "family_name_en", "mailbox_quota_mb", "aliases", "citizen_id", "password_hash",
    ]  # fmt: skip
    with (args.out / "accounts.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for n in range(args.accounts):
            a = ags[n % len(ags)]
            ministry = a["code"][:3]
            email = f"user{n:06d}@{ministry}.go.th"
            w.writerow(
                [
                    email,
                    a["code"],
                    f"สมชาย{n}",
                    "ใจดี",
                    f"Somchai{n}",
                    "Jaidee",
                    6144 if n % 7 else 10240,
                    f"alias{n:06d}@{ministry}.go.th" if n % 5 == 0 else "",
                    citizen_id(n) if n % 10 < 3 else "",
                    password_hash(n, rnd),
                ]
            )
    print(f"wrote {len(ags)} agencies and {args.accounts} accounts to {args.out}")


if __name__ == "__main__":
    main()
