"""The on-disk caches (issue 12): they run only what retrograd wrote, discard corrupt entries, survive
concurrent writers, and fall back (one warning) when the location is untrusted or unusable.

Most probes go through `cachefs.load_module` with each backend's file prefix and a tiny module (cheap);
a few run the real numba / Triton (interpreter) backends end to end."""
import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import retrograd as rg
from retrograd.backends import cachefs

PREFIXES = {"numba": "retrograd_generated_", "triton": "retrograd_triton_"}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache root and fresh in-process state (directories chosen, warnings given, modules loaded)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(root))
    monkeypatch.setattr(cachefs, "_DIRS", {})
    monkeypatch.setattr(cachefs, "_WARNED", set())
    return root


def _load(backend, source, loaded=None):
    return cachefs.load_module(backend, PREFIXES[backend], source, {}, {} if loaded is None else loaded)


def _evil(marker):
    return f"open({str(marker)!r}, 'w').write('ran')\nVALUE = 666\n"


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_planted_file_under_the_expected_name_is_not_executed(cache, tmp_path, backend):
    src = "VALUE = 42\n"
    name = cachefs.content_name(PREFIXES[backend], src.encode())
    d = cachefs.directory(backend)
    marker = tmp_path / "marker"
    with open(os.path.join(d, name + ".py"), "w") as fh:
        fh.write(_evil(marker))
    mod = _load(backend, src)
    assert mod.VALUE == 42 and not marker.exists()
    with open(os.path.join(d, name + ".py")) as fh:       # replaced by what retrograd wrote
        assert fh.read() == src


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_truncated_module_is_discarded_and_regenerated(cache, backend):
    src = "def f(x):\n    return x + 1\n"
    name = cachefs.content_name(PREFIXES[backend], src.encode())
    path = os.path.join(cachefs.directory(backend), name + ".py")
    with open(path, "w") as fh:
        fh.write(src[:9])                    # a syntax error if it were imported
    assert _load(backend, src).f(1) == 2
    assert open(path).read() == src


def test_traversal_in_a_planted_index_is_refused(cache, tmp_path):
    pytest.importorskip("numba")
    from retrograd.backends import numba as nb
    from retrograd.backends import transform_cache

    def f(x):
        return x * x
    d = nb.cache_dir()
    k, _ = transform_cache.key(f, (0,), {"x": "scalar"}, "numba")
    marker = tmp_path / "marker"
    (tmp_path / "elsewhere.py").write_text(_evil(marker))
    for module in ["../../elsewhere", "retrograd_generated_/../../elsewhere", str(tmp_path / "elsewhere"),
                   "retrograd_generated_" + "0" * 32]:
        transform_cache.store(d, k, {"module": module, "primal": "primal_f", "adjoint": "adjoint_f"})
        assert nb.load_cached_transform(f, (0,), {"x": "scalar"}) is None
        assert not marker.exists()
        assert not os.path.exists(os.path.join(d, "transforms", k + ".json"))   # discarded


def test_corrupt_transform_json_is_discarded(cache):
    from retrograd.backends import transform_cache
    d = cachefs.directory("numba")
    os.makedirs(os.path.join(d, "transforms"), exist_ok=True)
    for text in ['{"module": "retrograd_gen', "[1, 2]", '{"module": 3, "primal": "p", "adjoint": "a"}', "\xff"]:
        path = os.path.join(d, "transforms", "abc.json")
        with open(path, "w", encoding="latin-1") as fh:
            fh.write(text)
        assert transform_cache.lookup(d, "abc") is None
        assert not os.path.exists(path)


@pytest.mark.parametrize("backend", ["numba", "triton"])
@pytest.mark.parametrize("how", ["world-writable", "group-writable", "other-owner"])
def test_untrusted_directory_is_not_used(cache, tmp_path, backend, how):
    d = cache / backend
    d.mkdir(parents=True)
    if how == "other-owner":
        if os.getuid() != 0:
            pytest.skip("needs root to chown")
        os.chown(d, 12345, -1)
    else:
        d.chmod(0o777 if how == "world-writable" else 0o770)
    marker = tmp_path / "marker"
    src = "VALUE = 1\n"
    (d / (cachefs.content_name(PREFIXES[backend], src.encode()) + ".py")).write_text(_evil(marker))
    with pytest.warns(rg.CacheWarning, match="owned by uid|writable by other"):
        used = cachefs.directory(backend)
    assert used != str(d) and not cachefs.untrusted_reason(used)
    assert _load(backend, src).VALUE == 1 and not marker.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # one warning only
        cachefs.directory(backend)
        _load(backend, "VALUE = 2\n")


def test_created_directories_are_private(cache):
    d = cachefs.directory("numba")
    assert oct(os.stat(d).st_mode & 0o777) == oct(0o700)
    assert cachefs.untrusted_reason(d) is None


def _no_tmp_left(root):
    return [f for _, _, fs in os.walk(root) for f in fs if f.endswith(".tmp")]


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_cache_under_a_regular_file_falls_back_with_one_warning(tmp_path, monkeypatch, backend):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path / "file" / "cache"))
    monkeypatch.setattr(cachefs, "_DIRS", {})
    monkeypatch.setattr(cachefs, "_WARNED", set())
    with pytest.warns(rg.CacheWarning, match="cannot be created"):
        assert _load(backend, "VALUE = 3\n").VALUE == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _load(backend, "VALUE = 4\n").VALUE == 4


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_no_permission_falls_back(cache, monkeypatch, backend):
    # root ignores mode 0500, so the refusal is simulated
    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(cachefs.os, "makedirs", refuse)
    with pytest.warns(rg.CacheWarning, match="Permission denied"):
        assert _load(backend, "VALUE = 5\n").VALUE == 5


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_disk_full_compiles_in_memory_with_one_warning_and_no_temp_files(cache, monkeypatch, backend):
    cachefs.directory(backend)
    real_open = os.open

    def full(path, flags, *a):
        if flags & os.O_CREAT:
            fd = real_open(path, flags, *a)      # the temp file gets created, then the write fails
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, *a)
    monkeypatch.setattr(cachefs.os, "open", full)
    with pytest.warns(rg.CacheWarning) as record:
        assert _load(backend, "def f(x):\n    return 2 * x\n").f(3) == 6
        assert _load(backend, "VALUE = 7\n").VALUE == 7
    assert len(record) == 1 and "No space left" in str(record[0].message)
    assert _no_tmp_left(cache) == []
    private = str(record[0].message).partition("private directory ")[2].split(" ")[0]
    assert not private or _no_tmp_left(private) == []


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_failing_module_is_not_left_in_sys_modules(cache, backend):
    src = "VALUE = 1\nraise RuntimeError('boom')\n"
    with pytest.raises(RuntimeError):
        _load(backend, src)
    assert cachefs.content_name(PREFIXES[backend], src.encode()) not in sys.modules


@pytest.mark.parametrize("backend", ["numba", "triton"])
def test_sixteen_threads_load_the_same_module(cache, backend):
    loaded, results, errors = {}, [], []
    src = "import time\ntime.sleep(0.01)\ndef f(x):\n    return 3 * x\n"

    def work():
        try:
            results.append(_load(backend, src, loaded).f(2))
        except Exception as exc:       # pragma: no cover - the failure is the test
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [6] * 16
    assert _no_tmp_left(cache) == []


# ---- end to end ------------------------------------------------------------------------------------------

NUMBA_F = '''
import numpy as np
def f(x, y):
    return np.sum(np.sin(x) * y)
'''


def _numba_fn(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    (tmp_path / "rg_caches_user.py").write_text(NUMBA_F)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    sys.modules.pop("rg_caches_user", None)
    return importlib.import_module("rg_caches_user").f


def _expected(x, y):
    return np.cos(x) * y, np.sin(x)


def test_numba_sixteen_threads_differentiate_the_same_function(cache, tmp_path, monkeypatch):
    from retrograd.backends import numba as nb
    f = _numba_fn(tmp_path, monkeypatch)
    monkeypatch.setattr(nb, "_LOADED", {})
    x, y = np.linspace(0.1, 1.0, 5), np.linspace(-1.0, 1.0, 5)
    results, errors = [], []

    def work():
        try:
            results.append(rg.differentiate(f, wrt=(0, 1), backend="numba").grad(x, y))
        except Exception as exc:       # pragma: no cover
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 16
    for gx, gy in results:
        np.testing.assert_allclose(gx, _expected(x, y)[0], rtol=1e-13)
        np.testing.assert_allclose(gy, _expected(x, y)[1], rtol=1e-13)
    assert _no_tmp_left(cache) == []



def test_numba_four_processes_share_one_cache_and_survive_a_corrupt_index(cache, tmp_path, monkeypatch):
    _numba_fn(tmp_path, monkeypatch)
    script = textwrap.dedent('''
        import numpy as np, retrograd as rg, rg_caches_user as m
        x, y = np.linspace(0.1, 1.0, 5), np.linspace(-1.0, 1.0, 5)
        gx, gy = rg.differentiate(m.f, wrt=(0, 1), backend="numba").grad(x, y)
        assert np.allclose(gx, np.cos(x) * y, rtol=1e-13) and np.allclose(gy, np.sin(x), rtol=1e-13)
        print("ok")
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path)] + sys.path), RETROGRAD_CACHE_DIR=str(cache))

    def run(n):
        procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(n)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0] * n, [o[1][-2000:] for o in outs]
        assert all(o[0].strip() == "ok" for o in outs), [o[1][-1500:] for o in outs]
        return outs
    outs = run(4)
    assert "CacheWarning" not in outs[0][1], outs[0][1][-1500:]
    # truncate Numba's index (a pickle) of the generated module: a new process discards it and compiles again
    # (only this test's module's: NUMBA_CACHE_DIR is shared with the other tests and xdist workers)
    ours = tuple(f[:-3] + "." for f in os.listdir(cache / "numba") if f.startswith("retrograd_generated_")
                 and f.endswith(".py"))
    nbi = [os.path.join(d, p) for d, _, fs in os.walk(os.environ.get("NUMBA_CACHE_DIR") or cache) for p in fs
           if p.startswith(ours) and p.endswith(".nbi")]
    assert ours and nbi
    for p in nbi:
        with open(p, "r+b") as fh:
            fh.truncate(7)
    run(1)
    assert _no_tmp_left(cache) == []
    entries = os.listdir(cache / "numba" / "transforms")
    assert len(entries) == 1 and json.load(open(cache / "numba" / "transforms" / entries[0]))["module"]


def test_triton_planted_kernel_module_is_not_executed(cache, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1")
    pytest.importorskip("triton")
    sys.path.insert(0, os.path.dirname(__file__))
    import triton_layers as L
    from retrograd.backends import triton as tb
    monkeypatch.setattr(tb, "_LOADED", {})
    fn = rg.torch.Function(L.gelu_tanh)
    x = torch.linspace(-2, 2, 7, dtype=torch.float32).requires_grad_()
    fn(x).sum().backward()
    good = x.grad.clone()
    d = tb.cache_dir()
    marker = tmp_path / "marker"
    for p in os.listdir(d):
        if p.startswith("retrograd_triton_") and p.endswith(".py"):
            with open(os.path.join(d, p), "w") as fh:
                fh.write(_evil(marker))
    for name in list(tb._LOADED):
        sys.modules.pop(name, None)
    monkeypatch.setattr(tb, "_LOADED", {})
    x.grad = None
    rg.torch.Function(L.gelu_tanh)(x).sum().backward()
    assert not marker.exists()
    torch.testing.assert_close(x.grad, good)


def test_cli_cache_info_and_clear(cache, capsys):
    from retrograd.cli import main
    _load("numba", "VALUE = 8\n")
    _load("triton", "VALUE = 9\n")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache / "numba") in out and "trusted" in out and "1 generated modules" in out
    (cache / "numba" / "keep.txt").write_text("not ours")
    assert main(["cache", "clear", "--backend", "numba"]) == 0
    assert "removed 1 files" in capsys.readouterr().out
    assert os.listdir(cache / "numba") == ["keep.txt"] and len(os.listdir(cache / "triton")) == 1
    (cache / "numba").chmod(0o777)
    assert main(["cache", "info", "--backend", "numba"]) == 0
    assert "NOT trusted" in capsys.readouterr().out


def test_numba_grad_with_a_full_disk_compiles_in_memory(cache, tmp_path, monkeypatch):
    from retrograd.backends import numba as nb
    f = _numba_fn(tmp_path, monkeypatch)
    monkeypatch.setattr(nb, "_LOADED", {})

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cachefs, "write_atomic", full)
    monkeypatch.setattr(cachefs, "tempfile", type("T", (), {"mkdtemp": staticmethod(full)}))
    x, y = np.linspace(0.1, 1.0, 5), np.linspace(-1.0, 1.0, 5)
    with pytest.warns(rg.CacheWarning, match="in memory"):
        gx, gy = rg.differentiate(f, wrt=(0, 1), backend="numba").grad(x, y)
    np.testing.assert_allclose(gx, _expected(x, y)[0], rtol=1e-13)
    np.testing.assert_allclose(gy, _expected(x, y)[1], rtol=1e-13)


def test_numba_index_in_an_untrusted_numba_cache_dir_is_not_unpickled(cache, tmp_path, monkeypatch):
    import pickle
    _numba_fn(tmp_path, monkeypatch)
    ncd = tmp_path / "numba-cache"
    ncd.mkdir(mode=0o700)
    marker = tmp_path / "marker"
    script = textwrap.dedent('''
        import numpy as np, retrograd as rg, rg_caches_user as m
        x, y = np.linspace(0.1, 1.0, 5), np.linspace(-1.0, 1.0, 5)
        gx, gy = rg.differentiate(m.f, wrt=(0, 1), backend="numba").grad(x, y)
        assert np.allclose(gx, np.cos(x) * y, rtol=1e-13) and np.allclose(gy, np.sin(x), rtol=1e-13)
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path)] + sys.path), RETROGRAD_CACHE_DIR=str(cache),
               NUMBA_CACHE_DIR=str(ncd))

    def run():
        p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stderr
    run()

    class Evil:             # unpickling it writes the marker
        def __reduce__(self):
            return (open, (str(marker), "w"))
    nbi = [os.path.join(d, f) for d, _, fs in os.walk(ncd) for f in fs if f.endswith(".nbi")
           and f.startswith("retrograd_generated_")]
    assert nbi
    for p in nbi:
        with open(p, "wb") as fh:
            fh.write(pickle.dumps(Evil()))
    for d, _, _ in os.walk(ncd):
        os.chmod(d, 0o777)
    assert "not caching compiled code" in run()
    assert not marker.exists()


def test_numba_module_name_changes_with_the_package_stamp(cache, monkeypatch):
    """Numba's cache of a generated module keys on its file alone, not on the runtime overloads it calls:
    an edited retrograd (same version) must write a new module, or the old machine code runs."""
    from retrograd.backends import numba as nb
    from retrograd.backends import transform_cache
    seen = []
    monkeypatch.setattr(nb, "_load_module", lambda text, ns: seen.append(text))
    program = type("P", (), {"globals_for": lambda self, runtime: {}, "namespace_key": ""})()
    for stamp in ("a", "b"):
        monkeypatch.setattr(transform_cache, "_PACKAGE_STAMP", stamp)
        nb.load(program, "x = 1\n", "t")
    assert seen[0] != seen[1] and seen[0].split(nb._TRAILER)[0] == seen[1].split(nb._TRAILER)[0]
