"""The result of a check: small dataclasses, a readable table, and JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    severity: str      # error | warning | info
    rule: str          # no-kernel, set-value-in-loop, dynamic-input, data-dependent-loop, ...
    op: str            # op type as written in the model ('' for model-level findings)
    location: str      # 'top', 'while#1', 'while#1/if#2:then', ...
    loop_depth: int
    count: int
    message: str


@dataclass
class OpUse:
    op: str            # op type as written in the model
    kernel: str        # phi kernel name it needs
    mapping: str       # naming rule: same-name, inplace, legacy-name, structural
    admitted_by: str   # npu-kernel, allow:*, structural, missing
    location: str
    loop_depth: int
    count: int


@dataclass
class ControlFlow:
    op: str
    location: str      # where the op sits
    body: str          # the location label of its body
    loop_depth: int    # loop depth inside the body
    condition: str     # what the condition depends on: data, shape, counter, constant
    body_ops: int      # ops run per iteration/branch directly in the body
    nested_ops: int    # ops in blocks nested inside the body
    trip_count: str    # loops: '63' (fixed by a counter), '<=63' (a counter bounds it), '?' (unknown)
    cost: str          # host reads and ops per run


@dataclass
class ModelInputInfo:
    name: str
    shape: list[int]
    dtype: str


@dataclass
class Report:
    model: str
    format: str
    kernel_list: str
    require_static: bool
    require_single_graph: bool = False
    inputs: list[ModelInputInfo] = field(default_factory=list)
    control_flow: list[ControlFlow] = field(default_factory=list)
    ops: list[OpUse] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def by_severity(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    @property
    def exit_code(self) -> int:
        return 1 if self.by_severity("error") else 0

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["exit_code"] = self.exit_code
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _table(headers: list[str], rows: list[list]) -> list[str]:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells]


def _mode(report: Report) -> str:
    if report.require_single_graph:
        return "--require-single-graph (static shapes, no control flow)"
    return "--require-static (every shape static)" if report.require_static else "default"


def render_text(report: Report) -> str:
    out = [f"model        {report.model} ({report.format})",
           f"kernel list  {report.kernel_list}",
           f"mode         {_mode(report)}"]
    for spec in report.inputs:
        out.append(f"input        {spec.name} {spec.shape} {spec.dtype}")
    if report.control_flow:
        out += ["", "Control flow (the host reads each condition back from the device)"]
        out += _table(["op", "at", "body", "loop depth", "condition", "ops/iteration", "nested ops", "trips",
                       "cost per run"],
                      [[c.op, c.location, c.body, c.loop_depth, c.condition, c.body_ops, c.nested_ops,
                        c.trip_count, c.cost] for c in report.control_flow])
    out += ["", "Findings"]
    if report.findings:
        out += _table(["severity", "rule", "op", "at", "depth", "n", "why"],
                      [[f.severity, f.rule, f.op or "-", f.location, f.loop_depth, f.count, f.message]
                       for f in report.findings])
    else:
        out.append("none")
    out += ["", "Ops (kernel: the phi kernel the op needs; via: naming rule; admitted by: list or allow rule)"]
    out += _table(["op", "at", "depth", "n", "kernel", "via", "admitted by"],
                  [[u.op, u.location, u.loop_depth, u.count, u.kernel or "-", u.mapping, u.admitted_by]
                   for u in report.ops])
    counts = {s: len(report.by_severity(s)) for s in SEVERITIES}
    verdict = "hazards found" if report.exit_code else "clean"
    out += ["", f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes: {verdict}"]
    return "\n".join(out)
