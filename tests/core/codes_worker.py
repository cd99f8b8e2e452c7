"""A separate process that changes one run's codes on command (test_codes_property.py drives two of these).

Reads one JSON command per line on stdin, answers one JSON line on stdout:
  {"op": "add", "run": R, "paths": [...]}          session add_codes (codes of the run's first query, label -1)
  {"op": "encode", "run": R, "paths": [...], "out": D}   encode the images into D, then add them (`encode --add`)
  {"op": "resume", "run": R}                       train --resume (a finished run saves its codes again)
  {"op": "delete", "alias": A}                     `runs delete` of a symlink alias of the run
  {"op": "eval", "run": R}                         evaluate; answers the database size it saw
Answer: {"added": [paths this call added]} / {"database": N} / {"ok": true}, or {"refused": message} for a
one-line FghashError (e.g. adding while the other process resumes the run), or {"bug": traceback}.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


def main() -> int:
    import torch

    torch.set_num_threads(1)
    from core import engine
    from core.base.errors import FghashError
    from core.encoding.collection import Collection, encode_collection, load_encoded
    from core.encoding.encode import drain
    from core.retrieval.session import forget_session
    from core.search.codes import load_codes

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        try:
            forget_session()  # each command sees the files as they are now, like a new CLI call
            if op in ("add", "encode"):
                run = engine.open_run(command["run"])
                before = set(load_codes(run, "database").paths)
                if op == "add":
                    code = load_codes(run, "query").codes[:1]
                    paths = command["paths"]
                    engine.session(command["run"]).add_codes(code.repeat(len(paths), 0), [-1] * len(paths), paths)
                else:
                    collection = Collection("test", tuple(command["paths"]), (-1,) * len(command["paths"]))
                    drain(encode_collection(command["run"], collection, command["out"], device="cpu"))
                    codes = load_encoded(command["out"])
                    engine.session(command["run"]).add_codes(codes.codes, codes.labels, codes.paths)
                # what this call added: the given paths that were not there before (the add is idempotent)
                answer = {"added": sorted(set(command["paths"]) - before)}
            elif op == "resume":
                drain(engine.train(None, resume=command["run"]))
                answer = {"ok": True}
            elif op == "delete":
                if Path(command["alias"]).is_symlink():
                    engine.delete_run(command["alias"])
                answer = {"ok": True}
            elif op == "eval":
                answer = {"database": engine.evaluate(command["run"], ks=(5,), device="cpu").num_database}
            else:
                answer = {"bug": f"unknown op {op}"}
        except FghashError as exc:
            answer = {"refused": str(exc)}
        except BaseException:  # a traceback is a finding of the test, reported there
            answer = {"bug": traceback.format_exc()}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
