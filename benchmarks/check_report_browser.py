"""Open `archspec report` pages in headless Chromium and check what the browser renders
(a check, not a benchmark; run it by hand, and tests/test_html_report.py runs it on one spec
when Chromium is installed).

    apt-get install chromium            # Debian; or any Chromium/Chrome, see --chromium
    python benchmarks/check_report_browser.py                  # the default specs
    python benchmarks/check_report_browser.py --out shots/     # keep the screenshots
    python benchmarks/check_report_browser.py gpt2:B=null,L=null zoo:resnet18

Each SPEC is a zoo name or a path, optionally followed by `:NAME=VALUE,...` (params bound with
--set; `null` leaves a free symbol). For each one the script writes the page with
`archspec report`, opens it from a file:// URL with the network off (offline emulation, every
http/https/ws URL blocked, host resolution mapped to nowhere), and checks in the rendered page:

- no console error or warning, no uncaught exception, no request other than file:// and
  data: URLs and no failed load: the page needs nothing from the network;
- the summary figures (params, active params, buffers, MACs, FLOPs, activations) equal
  `archspec analyze --format json`'s totals, and the memory table's rows equal
  `archspec memory --format json`'s non-zero components;
- the per-layer table has one row per layer of the JSON, and one <details> block per
  top-level block of more than one layer;
- the SVG diagram is drawn with a non-zero size, one box per node of
  `archspec analyze --depth 1` and no box overlapping another, and every line of text
  fits inside its box; the page itself does not scroll sideways;
- the collapsible blocks work through the page's own mechanism: a mouse click on a block's
  <summary> opens it (its rows become visible) and a second click closes it;
- a full-page screenshot PNG per spec (in --out, default a temporary directory).

It prints one verdict line per spec and exits 1 if any check failed (2 without Chromium).
Only the standard library: Chromium is driven over the DevTools protocol through
--remote-debugging-pipe (file descriptors 3 and 4, messages separated by NUL bytes).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ("resnet50", "llama3_8b", "mixtral_8x7b", "gpt2:B=null,L=null")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
)
VIEWPORT = (1280, 900)


def find_chromium(explicit: str | None = None) -> str | None:
    """The browser: --chromium, $CHROMIUM, or chromium / google-chrome on the PATH."""
    for candidate in (
        explicit,
        os.environ.get("CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


class Chromium:
    """A headless Chromium driven over the DevTools protocol on a pipe (no websocket, no
    dependency): Chromium reads commands on its fd 3 and writes replies and events on fd 4."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.timeout = timeout
        # A browser that never answers its first command (seen once in a CI run on a loaded
        # machine; it answers in 0.3-3 s otherwise), or ends at once, is stopped and started
        # again, once: the pages are checked by a browser that works, not excused when none does.
        for attempt in (1, 2):
            self._launch(executable)
            try:
                self.send("Browser.getVersion")
                return
            except (TimeoutError, RuntimeError):
                self._stop(kill=True)
                if attempt == 2:
                    raise

    def _launch(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="archspec-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child's ends, copied above fd 10 so that putting them at 3 and 4 clobbers neither
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire() -> None:  # in the child, before exec: the pipe ends at fds 3 and 4
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self.process = subprocess.Popen(
            [
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire,  # noqa: PLW1509 (only moves two fds)
        )
        os.close(child_r)
        os.close(child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(
        self, method: str, params: dict | None = None, session: str | None = None
    ) -> dict:
        """One command; its result (events that arrive meanwhile are kept in self.events)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        """The first event `method` of the session (already received or still to come)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(
                    "Chromium closed the DevTools pipe (did it start? try running it by hand)"
                )
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        self._stop()

    def _stop(self, kill: bool = False) -> None:
        """Wait for the browser to end (killing it now, or after 10 s), close the pipes, drop the profile."""
        if kill:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# What the page shows, read from the rendered DOM (innerText, layout boxes), as JSON.
_INSPECT = r"""
(() => {
  const headings = [...document.querySelectorAll('h2')];
  const section = (name) => {
    const start = headings.find((h) => h.textContent.startsWith(name));
    const out = [];
    for (let e = start && start.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) out.push(e);
    return out;
  };
  const layers = section('Layers');
  const details = layers.filter((e) => e.tagName === 'DETAILS');
  const svg = document.querySelector('.diagram svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const rects = svg ? [...svg.querySelectorAll('rect')].map((r) => r.getBBox()) : [];
  const overlaps = [];
  rects.forEach((a, i) => rects.slice(i + 1).forEach((b, j) => {
    if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
      overlaps.push([i, i + 1 + j]);
  }));
  const spilling = [];
  for (const text of svg ? svg.querySelectorAll('text') : []) {
    const t = text.getBBox();
    const home = rects.find((r) => t.x >= r.x && t.x < r.x + r.width && t.y >= r.y && t.y < r.y + r.height);
    if (!home || t.x + t.width > home.x + home.width - 2 || t.y + t.height > home.y + home.height)
      spilling.push(text.textContent);
  }
  return {
    title: document.title,
    headings: headings.map((h) => h.textContent),
    summary: section('Summary').map((e) => e.innerText).join('\n'),
    layerRows: layers.reduce((n, e) => n + e.querySelectorAll('tbody tr').length, 0),
    details: details.map((d) => ({open: d.open, rows: d.querySelectorAll('tbody tr').length,
                                  label: d.querySelector('summary').innerText})),
    memory: section('Memory').flatMap((e) => [...e.querySelectorAll('tr')].slice(1)
                                       .map((tr) => [...tr.cells].map((c) => c.innerText))),
    svg: {width: box.width, height: box.height, boxes: rects.length,
          visibleBoxes: rects.filter((r) => r.width > 0 && r.height > 0).length,
          lines: svg ? svg.querySelectorAll('line').length : 0, overlaps, spilling},
    pageWidth: document.documentElement.scrollWidth, viewportWidth: window.innerWidth,
  };
})()
"""

# The <summary> of the index-th block of the Layers section, scrolled into view: its centre.
_LOCATE = r"""
((index) => {
  const d = document.querySelectorAll('details')[index];
  const s = d.querySelector('summary');
  s.scrollIntoView({block: 'center'});
  const r = s.getBoundingClientRect();
  return {x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2};
})
"""

# Whether the index-th block is open and how many of its rows the browser lays out.
_STATE = r"""
((index) => {
  const d = document.querySelectorAll('details')[index];
  const rows = [...d.querySelectorAll('tbody tr')];
  return {open: d.open, shown: rows.filter((r) => r.checkVisibility()).length};
})
"""

_FIGURES = {
    "params": "params",
    "active params": "active_params",
    "buffers": "buffers",
    "MACs": "macs",
    "FLOPs": "flops",
    "activations": "activations",
}
_FIGURE = re.compile(
    r"(active params|params|buffers|MACs|FLOPs|activations) (.+?)"
    r"(?=, (?:active params|buffers|MACs|FLOPs|activations) | elements$|$)"
)


def summary_figures(text: str) -> dict[str, object]:
    """`params 1,234, buffers 0, MACs 18432*B*L, ...` (the summary line) as {"params": 1234, ...}."""
    line = next(line for line in text.splitlines() if line.startswith("params "))
    return {_FIGURES[name]: _number(value) for name, value in _FIGURE.findall(line)}


def _number(text: str) -> object:
    """A figure as the page prints it: 1,234 -> 1234; a formula stays text."""
    text = text.strip()
    return (
        int(text.replace(",", ""))
        if re.fullmatch(r"-?\d{1,3}(,\d{3})*", text)
        else text
    )


def parse_spec(argument: str) -> tuple[str, str, list[str]]:
    """`gpt2:B=null,L=null` -> (the spec to pass, a file-name-safe label, the --set options)."""
    body = argument.removeprefix("zoo:")
    name, _, bound = body.partition(":")
    if "=" not in bound:
        name, bound = body, ""
    spec = name if name.endswith((".yaml", ".yml", ".json", ".onnx")) else f"zoo:{name}"
    sets = [item for item in bound.split(",") if item]
    label = Path(spec.removeprefix("zoo:")).stem + "".join(
        f"_{s.replace('=', '-')}" for s in sets
    )
    return spec, label, [arg for s in sets for arg in ("--set", s)]


def archspec(*commands: list[str]) -> list[str]:
    """The standard output of each command line (this checkout's archspec), run side by side."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "archspec", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for args in commands
    ]
    outputs = []
    for args, process in zip(commands, running):
        stdout, stderr = process.communicate()
        if process.returncode:
            raise RuntimeError(f"archspec {' '.join(args)}: {stderr.strip()}")
        outputs.append(stdout)
    return outputs


def expected(spec: str, sets: list[str], page: Path) -> dict:
    """Write the page (`archspec report`) and what it must show: from the JSON of `archspec
    analyze` (every layer, and the blocks at depth 1) and of `archspec memory`."""
    _, full, blocks, memory = (
        json.loads(text) if text else None
        for text in archspec(
            ["report", spec, "-o", str(page), *sets],
            ["analyze", spec, "--format", "json", *sets],
            ["analyze", spec, "--format", "json", "--depth", "1", *sets],
            ["memory", spec, "--format", "json", *sets],
        )
    )
    layers = [layer for layer in full["layers"] if not layer.get("idle")]
    groups: list[list[str]] = []
    for layer in layers:
        key = layer["name"].split(".")[0]
        if not groups or groups[-1][0] != key:
            groups.append([key, 0])
        groups[-1][1] += 1
    totals = dict(full["totals"])
    if totals["active_params"] == totals["params"] and not any(
        layer.get("experts") for layer in layers
    ):
        totals.pop(
            "active_params"
        )  # the page shows active params for mixtures of experts only
    return {
        "totals": totals,
        "rows": len(layers),
        "details": [count for _, count in groups if count > 1],
        "nodes": len(blocks["layers"]),
        "memory": {key: value for key, value in memory["memory"].items() if value},
    }


def check(
    browser: Chromium, spec: str, label: str, sets: list[str], out: Path
) -> list[str]:
    """Write, open and check one report; the problems found (none: it passed)."""
    page = out / f"{label}.html"
    want = expected(spec, sets, page)
    problems: list[str] = []

    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send(
        "Target.attachToTarget", {"targetId": target, "flatten": True}
    )["sessionId"]
    first_event = len(browser.events)

    def send(method: str, params: dict | None = None) -> dict:
        return browser.send(method, params, session)

    def evaluate(expression: str) -> object:
        result = send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(
                f"script failed: {result['exceptionDetails'].get('text')}"
            )
        return result["result"].get("value")

    for domain in ("Page", "Runtime", "Log", "Network"):
        send(f"{domain}.enable")
    send(
        "Network.emulateNetworkConditions",
        {
            "offline": True,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        },
    )
    send(
        "Network.setBlockedURLs",
        {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]},
    )
    send(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": VIEWPORT[0],
            "height": VIEWPORT[1],
            "deviceScaleFactor": 1,
            "mobile": False,
        },
    )
    send("Page.navigate", {"url": page.resolve().as_uri()})
    browser.wait_for("Page.loadEventFired", session)
    shown = evaluate(_INSPECT)

    # the collapsible blocks: a real mouse click on the first and the last block's <summary>
    count = len(shown["details"])
    for index in sorted({0, count - 1}) if count else []:
        rows = shown["details"][index]["rows"]
        before = evaluate(f"{_STATE}({index})")
        states = []
        for _ in range(2):
            point = evaluate(f"{_LOCATE}({index})")
            for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
                send(
                    "Input.dispatchMouseEvent",
                    {
                        "type": kind,
                        "x": point["x"],
                        "y": point["y"],
                        "button": "left",
                        "clickCount": 1,
                    },
                )
            states.append(evaluate(f"{_STATE}({index})"))
        if before != {"open": False, "shown": 0}:
            problems.append(f"block {index} is not closed at first: {before}")
        if states[0] != {"open": True, "shown": rows}:
            problems.append(
                f"a click on block {index} did not show its {rows} rows: {states[0]}"
            )
        if states[1] != {"open": False, "shown": 0}:
            problems.append(
                f"a second click on block {index} did not hide its rows: {states[1]}"
            )
    evaluate("window.scrollTo(0, 0)")

    size = send("Page.getLayoutMetrics")["cssContentSize"]
    shot = send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            },
        },
    )
    (out / f"{label}.png").write_bytes(base64.b64decode(shot["data"]))
    browser.send("Target.closeTarget", {"targetId": target})

    for event in browser.events[first_event:]:
        if event.get("sessionId") != session:
            continue
        method, params = event["method"], event["params"]
        if method == "Runtime.consoleAPICalled" and params["type"] in (
            "error",
            "warning",
            "assert",
        ):
            text = " ".join(
                str(arg.get("value", arg.get("description", "")))
                for arg in params["args"]
            )
            problems.append(f"console {params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            problems.append(
                f"uncaught exception: {params['exceptionDetails'].get('text')}"
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] in (
            "error",
            "warning",
        ):
            problems.append(
                f"browser log {params['entry']['level']}: {params['entry']['text']}"
            )
        elif method == "Network.requestWillBeSent" and not params["request"][
            "url"
        ].startswith(("file:", "data:")):
            problems.append(f"network request: {params['request']['url']}")
        elif method == "Network.loadingFailed":
            problems.append(
                f"failed load: {params.get('errorText')} {params.get('blockedReason', '')}".strip()
            )

    if shown["headings"][:3] != ["Summary", "Architecture", "Layers"] or not shown[
        "headings"
    ][-1].startswith("Memory"):
        problems.append(f"sections: {shown['headings']}")
    figures = summary_figures(shown["summary"])
    if figures != want["totals"]:
        problems.append(
            f"summary figures {figures} != analyze --format json {want['totals']}"
        )
    if shown["layerRows"] != want["rows"]:
        problems.append(f"{shown['layerRows']} layer rows, {want['rows']} layers")
    if [d["rows"] for d in shown["details"]] != want["details"]:
        problems.append(
            f"blocks of {[d['rows'] for d in shown['details']]} rows, expected {want['details']}"
        )
    memory = {
        name: _number(value.removesuffix(" B")) for name, _, value in shown["memory"]
    }
    if memory != want["memory"]:
        problems.append(
            f"memory rows {memory} != archspec memory --format json {want['memory']}"
        )
    svg = shown["svg"]
    if not (svg["width"] > 0 and svg["height"] > 0):
        problems.append(f"the diagram has no size: {svg['width']} x {svg['height']}")
    if svg["boxes"] != want["nodes"] or svg["visibleBoxes"] != want["nodes"]:
        problems.append(
            f"the diagram has {svg['visibleBoxes']}/{svg['boxes']} boxes drawn, {want['nodes']} nodes"
        )
    if svg["overlaps"]:
        problems.append(f"diagram boxes overlap: {svg['overlaps'][:5]}")
    if svg["spilling"]:
        problems.append(f"diagram text outside its box: {svg['spilling'][:5]}")
    if shown["pageWidth"] > shown["viewportWidth"]:
        problems.append(
            f"the page scrolls sideways: {shown['pageWidth']} px wide in a {shown['viewportWidth']} px window"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "specs",
        nargs="*",
        default=list(DEFAULT_SPECS),
        help=f"zoo names or paths, with :NAME=VALUE,... to bind params (default: {' '.join(DEFAULT_SPECS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the pages and screenshots (default: a temporary directory)",
    )
    parser.add_argument(
        "--chromium",
        default=None,
        help="the browser executable (default: $CHROMIUM, or chromium on the PATH)",
    )
    args = parser.parse_args(argv)
    executable = find_chromium(args.chromium)
    if executable is None:
        print(
            "no Chromium found: install it (apt-get install chromium) or pass --chromium",
            file=sys.stderr,
        )
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="archspec-report-"))
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    try:
        browser = Chromium(executable)
    except (RuntimeError, TimeoutError) as exc:
        print(f"{executable} did not start as a DevTools browser: {exc}", file=sys.stderr)
        return 2
    with browser:
        for argument in args.specs:
            spec, label, sets = parse_spec(argument)
            start = time.perf_counter()
            try:
                problems = check(browser, spec, label, sets, out)
            except (RuntimeError, TimeoutError, KeyError, StopIteration) as exc:
                problems = [f"{type(exc).__name__}: {exc}"]
            seconds = time.perf_counter() - start
            failed += bool(problems)
            verdict = "ok" if not problems else "FAIL"
            print(
                f"{verdict:4} {argument}: {'; '.join(problems) or 'renders offline, figures match'} "
                f"({seconds:.1f} s, {out / (label + '.png')})"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
