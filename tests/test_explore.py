"""mt.viz.explore: the page's data (engine order, values, guards, escaping), both layouts, and
the page itself in a real headless Chromium (selenium + Debian's chromium-driver)."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import microtensor as mt
import nn
from microtensor.graph import record_backward
from microtensor.viz import _explore
from microtensor.viz._graph import build


def page_data(html: str) -> dict[str, Any]:
    """The JSON the page embeds (the escapes are JSON's own, so json.loads reads it back)."""
    m = re.search(r'<script type="application/json" id="mt-data">(.*?)</script>', html, re.S)
    assert m is not None
    return json.loads(m.group(1))


def xor_net() -> tuple[Any, mt.Tensor, mt.Tensor, mt.Tensor]:
    """The first article's network (as the demo builds it) and its summed-squares loss."""
    X, y = nn.datasets.xor()
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Sigmoid(),
                          nn.Linear(4, 1, bias=False), nn.Sigmoid())
    start = np.random.default_rng(0)
    model[0].weight.data[...] = start.uniform(size=(3, 4))
    model[2].weight.data[...] = start.uniform(size=(4, 1))
    Xt, yt = mt.tensor(X), mt.tensor(y.reshape(-1, 1))
    loss = nn.MSELoss(reduction="sum")(model(Xt), yt)
    loss.name = "loss"
    return model, Xt, yt, loss


def reuse_graph() -> tuple[mt.Tensor, mt.Tensor, mt.Tensor]:
    """a used twice by an op, b used by two ops, w broadcast over rows: sums and unbroadcasts."""
    a = mt.tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), requires_grad=True)
    w = mt.tensor(np.array([0.3, -0.2, 0.1]), requires_grad=True)
    a.name, w.name = "a", "w"
    b = (a * a) * w
    out = (b.sigmoid() + b * 3.0).sum()
    return a, w, out


def test_explore_steps_follow_the_engine_order() -> None:
    a, w, out = reuse_graph()
    data = page_data(mt.viz.explore(out).html)
    g = build([out])
    rec = record_backward([out])
    ids = [data["nodes"][s["node"]]["id"] for s in data["steps"] if not s.get("leaf")]
    assert ids == [f"o{g.order[n]}" for n in rec.incoming]
    leaf_steps = [data["nodes"][s["node"]]["label"] for s in data["steps"] if s.get("leaf")]
    assert leaf_steps == ["w", "a"]  # the engine reaches w first (the last Mul's input)
    assert list(rec.leaf_total) == [id(w), id(a)]


def test_explore_shows_reused_tensors_as_sums_and_undone_broadcasting() -> None:
    a, w, out = reuse_graph()
    data = page_data(mt.viz.explore(out).html)
    nodes, steps = data["nodes"], data["steps"]
    assert a.grad is None and w.grad is None  # the replay writes no gradient
    out.backward()
    by_label = {nodes[s["node"]]["label"]: s for s in steps if s.get("leaf")}
    for t in (a, w):
        step = by_label[t.name]
        total = np.array(nodes[step["node"]]["grad"]["v"]).reshape(t.shape)
        np.testing.assert_allclose(total, t.grad.data, rtol=1e-12)
    parts = by_label["a"]["parts"]  # a * a: two edges into a
    assert len(parts) == 2
    # a part is the gradient its consumer's step sent: the page points there
    sent = [steps[p["at"][0]]["out"][p["at"][1]] for p in parts]
    assert [nodes[steps[p["at"][0]]["node"]]["id"] for p in parts] == [nodes[p["from"]]["id"]
                                                                       for p in parts]
    summed = sum(np.array(o["g"]["v"]) for o in sent)
    np.testing.assert_allclose(summed.reshape(a.shape), a.grad.data, rtol=1e-12)
    mul_steps = [s for s in steps if not s.get("leaf") and nodes[s["node"]]["label"] == "Mul"]
    # b = (a*a)*w feeds Sigmoid and Mul(b, 3): its gradient arrives in two parts
    assert any(len(s["parts"]) == 2 for s in mul_steps)
    sent_to_w = [o for s in mul_steps for o in s["out"] if o["to"] is not None
                 and nodes[o["to"]]["label"] == "w"]
    assert sent_to_w and sent_to_w[0]["summed"] == [2, 3]


def test_explore_values_small_in_full_large_as_heat_map_and_stats() -> None:
    x = mt.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    big = mt.tensor(np.linspace(-1, 1, 100 * 70).reshape(100, 70), requires_grad=True)
    out = (x.sum() + big.sum()) * 2.0
    data = page_data(mt.viz.explore(out).html)
    leaves = {n["label"]: n for n in data["nodes"] if n["kind"] == "leaf"}
    xs = [n for n in data["nodes"] if n["kind"] == "leaf" and n["shape"] == [3, 4]][0]
    assert xs["value"]["v"] == list(np.arange(12.0))
    bigv = [n for n in leaves.values() if n["shape"] == [100, 70]][0]["value"]
    assert "v" not in bigv and bigv["st"] == [-1.0, pytest.approx(0.0, abs=1e-12), 1.0]
    hm = bigv["hm"]
    assert (hm["r"], hm["c"]) == (_explore.HEAT_SIDE, _explore.HEAT_SIDE)
    assert len(__import__("base64").b64decode(hm["d"])) == hm["r"] * hm["c"]


def test_explore_values_follow_the_logical_order_of_any_layout() -> None:
    base = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    for arr in (base.T, np.asfortranarray(base), base[:, ::2]):
        x = mt.tensor(arr, requires_grad=True)
        data = page_data(mt.viz.explore((x * 1.0).sum()).html)
        leaf = [n for n in data["nodes"] if n["kind"] == "leaf"][0]
        assert leaf["value"]["dt"] == "float32" and leaf["shape"] == list(arr.shape)
        assert leaf["value"]["v"] == arr.ravel().tolist()


def test_explore_marks_nan_and_inf() -> None:
    x = mt.tensor(np.array([1.0, np.nan, np.inf, -np.inf]), requires_grad=True)
    out = (x * 2.0).sum()
    data = page_data(mt.viz.explore(out).html)
    leaf = [n for n in data["nodes"] if n["kind"] == "leaf"][0]
    assert leaf["value"]["bad"] == "1 nan, 2 inf"
    assert leaf["value"]["v"] == [1.0, "nan", "inf", "-inf"]


def test_explore_json_cannot_close_the_script_block() -> None:
    evil = "</script><script>alert(1)</script><!--"
    x = mt.tensor(np.ones(3), requires_grad=True)
    x.name = evil
    page = mt.viz.explore((x * 2.0).sum(), title=evil)
    assert page.html.count("</script") == 2  # the two blocks' own ends
    assert "<!--" not in page.html and "alert(1)</" not in page.html
    assert any(n["label"] == evil for n in page_data(page.html)["nodes"])


def test_explore_page_requests_nothing() -> None:
    _, Xt, yt, loss = xor_net()
    page = mt.viz.explore(loss).html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    rules = dict(r.strip().split(" ", 1) for r in csp.group(1).split(";") if r.strip())
    assert rules["default-src"] == "'none'" and rules["connect-src"] == "'none'"
    assert rules["img-src"] == "data:"
    rest = page.replace(csp.group(0), "").replace('<link rel="icon" href="data:,">', "")
    assert not re.search(r"https?:|//[a-z]|<link|<img|src=|href=|@import|url\((?!#)", rest)


def test_explore_layouts_place_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, _, loss = xor_net()
    modes = ["python"] + (["dot"] if shutil.which("dot") else [])
    for mode in modes:
        data = page_data(mt.viz.explore(loss, layout=mode).html)
        assert data["layout"] == mode
        nodes = data["nodes"]
        assert all(n["x"] >= n["w"] / 2 - 1 and n["y"] >= 0 for n in nodes)
        by_id = {k: n for k, n in enumerate(nodes)}
        for a, b in data["edges"]:  # top to bottom: every input above its op
            assert by_id[a]["y"] < by_id[b]["y"]
        boxes = [(n["x"] - n["w"] / 2, n["y"] - n["h"] / 2, n["x"] + n["w"] / 2,
                  n["y"] + n["h"] / 2) for n in nodes]
        for i, p in enumerate(boxes):
            for q in boxes[i + 1:]:
                assert p[2] <= q[0] or q[2] <= p[0] or p[3] <= q[1] or q[3] <= p[1], mode
    if shutil.which("dot"):  # dot's time depends on the graph's shape: auto gives up on it
        monkeypatch.setattr(_explore, "DOT_SECONDS", 1e-4)
        layout = page_data(mt.viz.explore(loss).html)["layout"]
        assert layout.startswith("python (dot took over")

        def too_slow(*args: Any, **kwargs: Any) -> Any:
            raise _explore.subprocess.TimeoutExpired("dot", 600)

        monkeypatch.setattr(_explore.subprocess, "run", too_slow)
        with pytest.raises(RuntimeError, match="did not lay out 9 nodes within 600 s"):
            mt.viz.explore(loss, layout="dot")
    monkeypatch.setattr(_explore.shutil, "which", lambda name: None)
    assert page_data(mt.viz.explore(loss).html)["layout"] == "python"  # auto falls back
    with pytest.raises(RuntimeError, match="needs Graphviz's `dot`"):
        mt.viz.explore(loss, layout="dot")


def test_explore_names_parameters_inputs_and_groups_modules() -> None:
    model, Xt, yt, loss = xor_net()
    data = page_data(mt.viz.explore(loss, model=model, inputs={"X": Xt, "y": yt}).html)
    labels = {n["label"]: n for n in data["nodes"]}
    assert labels["0.weight"]["kind"] == "param" and labels["2.weight"]["kind"] == "param"
    assert labels["X"]["kind"] == "const" and labels["y"]["kind"] == "const"
    groups = [g["label"] for g in data["groups"]]
    assert {"Sequential", "0: Linear", "2: Linear", "MSELoss"} <= set(groups)
    assert data["groups"][labels["0.weight"]["group"]]["label"] == "0: Linear"
    assert data["collapsed"] is False


def test_explore_xor_steps_carry_the_article_lines() -> None:
    _, _, _, loss = xor_net()
    data = page_data(mt.viz.explore(loss).html)
    lines = {data["nodes"][s["node"]]["id"]: s.get("article") for s in data["steps"]}
    assert sum(v is not None for v in lines.values()) == 5
    text = json.dumps(data["steps"])
    assert "d_weights2 = t(layer1) %*% delta2" in text
    assert "d_weights1 = t(input) %*% delta1" in text


def test_explore_fused_linear_sigmoid_gets_both_lines() -> None:
    X, y = nn.datasets.xor()
    model = nn.Sequential(nn.Linear(3, 4, bias=False, activation="sigmoid"),
                          nn.Linear(4, 1, bias=False, activation="sigmoid"))
    loss = nn.MSELoss(reduction="sum")(model(mt.tensor(X)), mt.tensor(y.reshape(-1, 1)))
    data = page_data(mt.viz.explore(loss).html)
    ops = [data["nodes"][s["node"]]["label"] for s in data["steps"] if not s.get("leaf")]
    assert ops == ["SquaredError", "LinearSigmoid", "LinearSigmoid"]
    lines = [s["article"]["lines"] for s in data["steps"][:3]]
    assert lines[1][0].startswith("delta2 = 2 * (y - output)")
    assert lines[1][-2].startswith("d_weights2 = t(layer1) %*% delta2")
    assert lines[2][0].startswith("delta1 = (delta2 %*% t(weights2))")
    assert lines[2][-1].startswith("d_weights1 = t(input) %*% delta1")


def test_explore_binary_network_gets_the_second_article() -> None:
    mt.manual_seed(0)
    x = mt.tensor(np.random.default_rng(1).normal(size=(6, 2)))
    y = mt.tensor((np.arange(6) % 2).reshape(-1, 1).astype(float))
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
    loss = nn.BCELoss(reduction="sum")(model(x), y)
    text = json.dumps(page_data(mt.viz.explore(loss).html)["steps"])
    assert "dW_out = dw2 = [1, h]^T (y_hat - y)" in text
    three = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 3))
    labels = mt.tensor(np.arange(6) % 3)
    ce = nn.CrossEntropyLoss(reduction="sum")(three(x), labels)
    steps = page_data(mt.viz.explore(ce).html)["steps"]
    assert "haty_y = output - onehot(y)" in steps[0]["article"]["lines"][1]
    assert steps[1]["article"]["lines"][0] == "dW2 = [1, h]^T haty_y   (d/dbias = the " \
        "intercept row, d/dweight = the rest)"
    mean = nn.BCELoss()(model(x), y)  # the articles sum: a mean loss is not theirs
    assert "article" not in json.dumps(page_data(mt.viz.explore(mean).html)["steps"])


def test_explore_size_guards_say_what_they_left_out() -> None:
    x = mt.tensor(np.ones((30, 30)), requires_grad=True)
    y = x
    for _ in range(40):
        y = (y * 1.01).tanh()
    out = y.sum()
    page = mt.viz.explore(out, max_nodes=10, max_values=2000)
    data = page_data(page.html)
    assert any("of 81 ops summarized (max_nodes=10)" in m for m in page.left_out)
    assert any("beyond max_values=2,000" in m for m in page.left_out)
    assert data["leftOut"] == page.left_out
    hidden = [n for n in data["nodes"] if n["kind"] == "hidden"]
    assert len(hidden) == 1 and hidden[0]["label"] == "… 71 ops hidden"
    assert sum(n["kind"] == "op" for n in data["nodes"]) == 10
    assert all(n["kind"] != "hidden" for n in (data["nodes"][s["node"]] for s in data["steps"]))
    dropped = [n for n in data["nodes"] if n.get("value") and n["value"].get("dropped")]
    assert dropped and all("st" in n["value"] for n in dropped)


def test_explore_after_backward_shows_grad_and_no_steps() -> None:
    model, _, _, loss = xor_net()
    loss.backward()
    page = mt.viz.explore(loss, model=model)
    data = page_data(page.html)
    assert data["steps"] == [] and "freed" in page.left_out[0]
    w = [n for n in data["nodes"] if n["label"] == "0.weight"][0]
    assert w["gradFrom"] == ".grad"
    np.testing.assert_allclose(np.reshape(w["grad"]["v"], (3, 4)), model[0].weight.grad.data)


def test_explore_without_a_backward_pass_says_why() -> None:
    x = mt.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x * 2.0
    page = mt.viz.explore(y)  # non-scalar, no seed: the forward graph, and what is missing
    assert page_data(page.html)["steps"] == []
    assert page.left_out == ["an output of shape (3,) needs a seed to step through backward: "
                             "pass gradient= (an array of its shape)"]
    seeded = page_data(mt.viz.explore(y, gradient=np.ones(3, dtype=np.float32)).html)
    assert [seeded["nodes"][s["node"]]["kind"] for s in seeded["steps"]] == ["op", "leaf"]
    assert seeded["nodes"][seeded["steps"][1]["node"]]["grad"]["v"] == [2.0, 2.0, 2.0]
    with mt.no_grad():
        z = x * 2.0
    assert "does not require grad" in mt.viz.explore(z).left_out[0]


def test_explore_save_repr_and_errors(tmp_path: Path) -> None:
    _, _, _, loss = xor_net()
    target = tmp_path / "xor.html"
    page = mt.viz.explore(loss, target)
    assert page.path == target and target.read_text(encoding="utf-8") == page.html
    assert page.nodes == len(page_data(page.html)["nodes"])
    assert "<" not in repr(page) and "xor.html" in repr(page)
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=\"") and "<script" not in frame
    assert 'sandbox="allow-scripts"' in frame
    with pytest.raises(ValueError, match="layout must be"):
        mt.viz.explore(loss, layout="neato")
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        mt.viz.explore(loss, model=object())
    with pytest.raises(ValueError, match="2 outputs .1 distinct. and 2 gradients"):
        mt.viz.explore([loss, loss])
    with pytest.raises(ValueError, match="1 outputs .1 distinct. and 2 gradients"):
        mt.viz.explore(loss, gradient=[None, None])
    with pytest.raises(TypeError, match="expected Tensors"):
        mt.viz.explore([loss, 3])
    g = loss.grad_fn
    assert g is not None and loss.grad is None  # explore wrote no gradient


# --------------------------------------------------------------------------- in the browser


def _driver() -> Any:
    # selenium is a test dependency (the `test` extra): only a missing browser skips
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not Path(driver_path).exists() or not Path(chromium).exists():
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='mt-chromium-')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=opts)


@pytest.fixture(scope="module")
def browser() -> Any:
    driver = _driver()
    driver.get("about:blank")  # leave the new-tab page before any test reads the logs
    yield driver
    driver.quit()


def open_page(browser: Any, path: Path) -> float:
    """Load a file and wait until the script says it is drawn; return the seconds it took."""
    browser.get_log("browser")
    browser.get_log("performance")
    started = time.perf_counter()
    browser.get(path.resolve().as_uri())
    for _ in range(600):
        if browser.execute_script("return document.body.dataset.ready") == "1":
            return time.perf_counter() - started
        time.sleep(0.05)
    raise AssertionError(f"{path} never finished drawing: {browser.get_log('browser')}")


def press(browser: Any, key: str, times: int = 1) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(browser)
    for _ in range(times):
        chain.send_keys(key)
    chain.perform()


def panel_numbers(browser: Any, css: str) -> np.ndarray:
    cells = browser.find_elements("css selector", css)
    return np.array([float(c.text) for c in cells])


def test_browser_xor_loads_steps_in_engine_order_and_shows_grad(browser: Any,
                                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    model, Xt, yt, loss = xor_net()
    path = mt.viz.explore(loss, tmp_path / "xor.html", model=model,
                          inputs={"X": Xt, "y": yt}).path
    open_page(browser, path)
    assert browser.get_log("browser") == []
    data = page_data(path.read_text(encoding="utf-8"))
    dom_nodes = browser.find_elements("css selector", "#graph .node")
    assert len(dom_nodes) == len(data["nodes"]) == len(build([loss]).ops) + 4  # 2 W, X, y
    g, rec = build([loss]), record_backward([loss])
    leaf_ids = {id(t): f"l{k}" for k, t in enumerate(g.leaves)}
    expected = [f"o{g.order[n]}" for n in rec.incoming] + [leaf_ids[k] for k in rec.leaf_total]
    seen = []
    for _ in expected:
        press(browser, Keys.ARROW_RIGHT)
        seen.append(browser.find_element("css selector", "#graph .node.current")
                    .get_attribute("data-id"))
    assert seen == expected
    loss.backward(retain_graph=True)
    params = {id(p): (name, p) for name, p in model.named_parameters()}
    for k, key in enumerate(reversed(list(rec.leaf_total))):
        # the leaf steps, last first: the panel's total equals .grad
        name, p = params[key]
        if k:
            press(browser, Keys.ARROW_LEFT)
        head = browser.find_element("css selector", "#panel .step h3").text
        assert head.endswith(name)
        shown = panel_numbers(browser, "#panel .step .in table.vals td")
        # the panel writes 6 significant digits
        np.testing.assert_allclose(shown, p.grad.data.ravel(), rtol=5e-6, atol=1e-12)
    # an op step: upstream gradient and what goes to each input, against the replay
    first = rec.incoming[g.ops[1]]  # the output Sigmoid's incoming gradient
    press(browser, Keys.HOME)
    press(browser, Keys.ARROW_RIGHT, 2)
    shown = panel_numbers(browser, "#panel .step .in table.vals td")
    np.testing.assert_allclose(shown, first.ravel(), rtol=5e-6, atol=1e-12)
    assert "s * (1 - s)" in browser.find_element("css selector", "#panel .step .rule").text
    article = browser.find_element("css selector", "#panel .step .article").text
    assert "delta2 = 2 * (y - output) * sigmoid_derivative(output)" in article
    assert browser.get_log("browser") == []


def test_browser_requests_nothing_and_csp_blocks_fetch(browser: Any, tmp_path: Path) -> None:
    _, _, _, loss = xor_net()
    path = mt.viz.explore(loss, tmp_path / "net.html").path
    open_page(browser, path)
    result = browser.execute_async_script(
        "const done = arguments[0];"
        "fetch('http://127.0.0.1:9/x').then(() => done('fetched'), e => done('blocked: ' + e));")
    assert result.startswith("blocked")
    sent = []
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            url, doc = msg["params"]["request"]["url"], msg["params"].get("documentURL", "")
            # the browser's own new-tab page loading its chrome:// resources (it can still be
            # finishing when our page opens, when another test started this browser): not a
            # request of ours, and never one that leaves the machine
            if url.startswith("chrome://") and doc.startswith("chrome://"):
                continue
            sent.append(url)
    assert all(u == path.resolve().as_uri() for u in sent), sent
    errors = [e["message"] for e in browser.get_log("browser")]
    assert all("Content Security Policy" in e or "127.0.0.1" in e for e in errors), errors


def test_browser_shows_hostile_names_as_text(browser: Any, tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    x = mt.tensor(np.ones(2), requires_grad=True)
    x.name = evil
    path = mt.viz.explore((x * 3.0).sum(), tmp_path / "evil.html").path
    open_page(browser, path)
    assert browser.get_log("browser") == []
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    leaf = browser.find_element("css selector", "#graph .node.k-leaf")
    leaf.click()
    assert evil in browser.find_element("css selector", "#panel").text


def test_browser_collapses_big_module_graphs(browser: Any, tmp_path: Path) -> None:
    layers = []
    for _ in range(80):
        layers += [nn.Linear(3, 3), nn.Tanh()]
    model = nn.Sequential(*layers)
    loss = model(mt.tensor(np.ones((2, 3)))).sum()
    path = mt.viz.explore(loss, tmp_path / "deep.html", model=model).path
    open_page(browser, path)
    assert browser.get_log("browser") == []
    visible = browser.execute_script(
        "return [...document.querySelectorAll('#graph .node')].filter(e => "
        "getComputedStyle(e).display !== 'none').length")
    assert visible < 10  # everything inside the collapsed Sequential
    title = browser.find_element("css selector", "#graph .glabel:not(.gone)")
    assert title.text.startswith("▸ Sequential") and "(320 nodes)" in title.text
    title.click()  # opens it: now its 160 layers, each closed
    shown = "return [...document.querySelectorAll('#graph .group:not(.gone)')].length"
    assert browser.execute_script(shown) == 1 + 160
    browser.find_element("css selector", "#collapseall").click()
    assert browser.execute_script(shown) == 1
    from selenium.webdriver.common.keys import Keys

    press(browser, Keys.ARROW_RIGHT, 3)  # stepping opens the groups around the current node
    current = browser.find_element("css selector", "#graph .node.current")
    assert current.is_displayed()


def test_browser_heat_map_nan_marks_and_jupyter_iframe(browser: Any, tmp_path: Path) -> None:
    big = mt.tensor(np.linspace(-1, 1, 100 * 70).reshape(100, 70), requires_grad=True)
    bad = mt.tensor(np.array([1.0, np.nan, np.inf]), requires_grad=True)
    big.name, bad.name = "big", "bad"
    out = big.sum() + bad.sum()
    page = mt.viz.explore(out, tmp_path / "heat.html")
    open_page(browser, page.path)
    drawn = browser.find_elements("css selector", "#graph .node")
    nodes = {e.text.split("\n")[0]: e for e in drawn}
    nodes["big"].click()
    panel = browser.find_element("css selector", "#panel")
    assert panel.find_elements("css selector", ".value canvas.heat")
    stats = panel.find_element("css selector", ".value .stats").text.split()
    assert stats[0::2] == ["min", "mean", "max"]
    np.testing.assert_allclose([float(v) for v in stats[1::2]], [-1, 0, 1], atol=1e-12)
    assert "bad" in nodes["bad"].get_attribute("class")
    nodes["bad"].click()
    value = browser.find_element("css selector", "#panel .value")
    assert "⚠ 1 nan, 1 inf" in value.text
    assert [c.text for c in value.find_elements("css selector", "td.bad")] == ["nan", "inf"]
    assert browser.get_log("browser") == []
    # Jupyter's display: the page inside a sandboxed srcdoc iframe still runs and draws
    wrapper = tmp_path / "notebook.html"
    wrapper.write_text(f"<!doctype html><html><body>{page._repr_html_()}</body></html>",
                       encoding="utf-8")
    browser.get(wrapper.resolve().as_uri())
    browser.switch_to.frame(browser.find_element("css selector", "iframe"))
    try:
        for _ in range(200):
            if browser.execute_script("return document.body.dataset.ready") == "1":
                break
            time.sleep(0.05)
        count = len(browser.find_elements("css selector", "#graph .node"))
        assert count == page.nodes
    finally:
        browser.switch_to.default_content()


def edge_case_pages() -> dict[str, Any]:
    """Graphs at the edges: a lone leaf, no grad, no seed, hidden ops, two outputs, freed."""
    x = mt.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    with mt.no_grad():
        untracked = x * 2.0
    chain = x
    for _ in range(30):
        chain = (chain * 0.9).tanh()
    model, _, _, freed = xor_net()
    freed.backward()
    return {"leaf": mt.viz.explore(x, gradient=np.ones(3)),
            "no grad": mt.viz.explore(untracked),
            "no seed": mt.viz.explore(x * 2.0),
            "hidden": mt.viz.explore(chain.sum(), max_nodes=6, layout="python"),
            "two outputs": mt.viz.explore([(x * 3.0).sum(), (x * x).sum()]),
            "freed": mt.viz.explore(freed, model=model)}


def test_browser_edge_cases_draw_and_step_without_errors(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    for name, page in edge_case_pages().items():
        path = page.save(tmp_path / f"{name.replace(' ', '_')}.html")
        open_page(browser, path)
        steps = len(page_data(page.html)["steps"])
        assert len(browser.find_elements("css selector", "#graph .node")) == page.nodes, name
        press(browser, Keys.ARROW_RIGHT, steps + 1)
        assert browser.execute_script("return document.body.dataset.step") == str(steps - 1)
        for text in page.left_out:
            assert text in browser.find_element("css selector", "#guard").text, name
        for node in browser.find_elements("css selector", "#graph .node"):
            node.click()
        assert browser.get_log("browser") == [], name


@pytest.mark.slow
def test_browser_opens_a_10000_op_graph_within_seconds(browser: Any, tmp_path: Path) -> None:
    x = mt.tensor(np.full((4, 4), 0.5), requires_grad=True)
    w = mt.tensor(np.full((4, 4), 0.9), requires_grad=True)
    y = x
    for _ in range(5000):
        y = (y * w).tanh()
    page = mt.viz.explore(y.sum(), tmp_path / "big.html")
    assert page.nodes == 10_003
    seconds = open_page(browser, page.path)
    assert browser.get_log("browser") == []
    count = browser.execute_script("return document.querySelectorAll('#graph .node').length")
    assert count == 10_003
    assert seconds < 30, f"the 10,000-op page took {seconds:.1f} s to draw"
    print(f"10,000-op graph drawn in {seconds:.2f} s "
          f"(script {browser.execute_script('return document.body.dataset.renderMs')} ms)")


@pytest.mark.parametrize("bad", [5, "loss", [], [1.0], None])
def test_explore_names_itself_for_what_is_not_a_tensor(bad: object) -> None:
    with pytest.raises(TypeError, match="explore: expected Tensors"):
        mt.viz.explore(bad)
