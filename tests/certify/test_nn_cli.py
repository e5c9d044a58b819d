"""Policy files and the `cora certify` command line (bounds, check, errors)."""

import json

import numpy as np
import pytest

from cora.certify import absint
from cora.certify.nn import MLP, init_mlp, load_policy
from cora.certify.properties import PROPERTIES, check_property
from cora.cli import main
from cora.errors import InputError


@pytest.fixture
def model(tmp_path):
    net = init_mlp(6, (16, 16), 1, np.random.default_rng(0), spec={"k": 1}, out_scale=0.5)
    path = tmp_path / "p.npz"
    net.save(str(path))
    return net, str(path)


def test_save_load_round_trip(model):
    net, path = model
    back = load_policy(path)
    assert back.spec == {"k": 1} and back.activation == "relu"
    x = np.random.default_rng(1).uniform(-1, 1, (10, 6))
    assert np.array_equal(back(x), net(x))


def test_bare_arrays_are_relu_hidden_and_linear_output(tmp_path):
    w0 = np.array([[1.0], [-1.0]])
    w1 = np.array([[1.0, 1.0]])
    np.savez(tmp_path / "raw.npz", W0=w0, b0=np.zeros(2), W1=w1, b1=np.array([-1.0]))
    net = load_policy(str(tmp_path / "raw.npz"))
    assert net.activation == "relu" and net.spec == {}
    assert net(np.array([[-3.0], [2.0]]))[:, 0].tolist() == [2.0, 1.0]  # |x| - 1, linear output


@pytest.mark.parametrize("arrays,msg", [
    ({"x": np.ones(2)}, "no array W0"),
    ({"W0": np.ones((3, 6))}, "has W0 but no b0"),
    ({"W0": np.ones((3, 6)), "b0": np.ones(2)}, "b0 must have shape"),
    ({"W0": np.ones((3, 6)), "b0": np.ones(3), "W1": np.ones((1, 4)), "b1": np.ones(1)},
     "takes 4 inputs"),
])
def test_bad_policy_files(tmp_path, arrays, msg):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=msg):
        load_policy(str(tmp_path / "bad.npz"))


def test_garbage_and_missing_files(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable"):
        load_policy(str(tmp_path / "g.npz"))
    with pytest.raises(InputError, match="no such model"):
        load_policy(str(tmp_path / "none.npz"))


def test_bounds_cli_json_matches_library(model, tmp_path, capsys):
    net, path = model
    lo, hi = np.zeros(6), np.full(6, 0.5)
    np.save(tmp_path / "l.npy", lo)
    np.save(tmp_path / "u.npy", hi)
    for domain in ("interval", "deeppoly"):
        assert main(["certify", "bounds", path, "--lower", str(tmp_path / "l.npy"), "--upper",
                     str(tmp_path / "u.npy"), "--domain", domain, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        lb, ub = absint.output_bounds(net, lo, hi, domain)
        assert out["lower"] == pytest.approx(lb.tolist())
        assert out["upper"] == pytest.approx(ub.tolist())
        ys = net(np.random.default_rng(0).uniform(lo, hi, (500, 6)))
        assert np.all(ys >= out["lower"][0]) and np.all(ys <= out["upper"][0])


def test_check_cli_all_properties_json(model, capsys):
    net, path = model
    assert main(["certify", "check", path, "--property", "all", "--json", "--max-boxes", "64"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["property"] for r in rows] == list(PROPERTIES)
    for r in rows:
        # the CLI reports exactly what the library certifies for the same model and budget
        direct = check_property(load_policy(path), r["property"], max_boxes=64)
        assert r["proven_fraction"] == pytest.approx(direct["proven_fraction"])
        assert r["worst_violation"] == pytest.approx(direct["worst_violation"])
        assert r["seconds"] >= 0
        assert r["counterexample_violation"] <= r["worst_violation"] + 1e-9
        # both measures, always: by volume and over the states the policy visits
        assert 0 <= r["saturation_rate"] <= 1 and r["visited_in_region"] >= 0
        assert (r["visited_fraction"] is None) == (r["visited_in_region"] == 0)


@pytest.mark.parametrize("argv,msg", [
    (["certify", "check", "{m}", "--property", "nope"], "unknown property 'nope'"),
    (["certify", "check", "{d}/missing.npz", "--property", "bounded"], "no such model file"),
    (["certify", "bounds", "{m}", "--lower", "{d}/l5.npy", "--upper", "{d}/u5.npy"], "6 values"),
    (["certify", "bounds", "{m}", "--lower", "{d}/nol.npy", "--upper", "{d}/u5.npy"],
     "no such file"),
    (["certify", "bounds", "{d}/noarr.npz", "--lower", "{d}/l5.npy", "--upper", "{d}/u5.npy"],
     "no array W0"),
    (["certify", "load", "{d}"], "no certificate.json"),
    (["certify", "unload", "cora_nonexistent"], "no congestion control named"),
    (["certify", "check", "{d}/small.npz", "--property", "all"], "maps 6 observations to 1 action"),
    (["certify", "eval", "{d}/small.npz"], "maps 6 observations to 1 action"),
    (["certify", "export", "{m}", "-o", "{m}"], "not a directory"),
    (["certify", "train", "-o", "{d}/no/such/dir/p.npz", "--iterations", "1"],
     "cannot write there"),
    (["certify", "train", "-o", "{d}/p2.npz", "--prop-weight", "speed=2"], "unknown property"),
    (["certify", "export", "{m}", "-o", "{d}/e", "--name", "Bad Name", "--no-compile"],
     "bad controller name"),
])
def test_cli_errors_are_one_line(model, tmp_path, capsys, argv, msg):
    _, path = model
    np.save(tmp_path / "l5.npy", np.zeros(5))
    np.save(tmp_path / "u5.npy", np.ones(5))
    np.savez(tmp_path / "noarr.npz", z=np.ones(3))
    init_mlp(3, (4,), 2, np.random.default_rng(0)).save(str(tmp_path / "small.npz"))
    argv = [a.format(m=path, d=tmp_path) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cora: error:") and msg in err[0]


@pytest.mark.parametrize("argv,msg", [
    (["certify", "train", "-o", "{d}/p2.npz", "--hidden", "64,x"], "--hidden"),
    (["certify", "train", "-o", "{d}/p2.npz", "--prop-weight", "probe=x"], "PROPERTY=K"),
    (["certify", "train", "-o", "{d}/p2.npz", "--prop-weight", "probe=-1"], "from 0 to"),
    (["certify", "train", "-o", "{d}/p2.npz", "--seed", "-1"], "--seed"),
    (["certify", "train", "-o", "{d}/p2.npz", "--population", "0"], "--population"),
    (["certify", "check", "{m}", "--property", "all", "--max-boxes", "nan"], "--max-boxes"),
])
def test_cli_usage_errors_exit_2(model, tmp_path, capsys, argv, msg):
    """A value of the wrong form or range is a usage error: one line, exit 2, nothing run."""
    _, path = model
    argv = [a.format(m=path, d=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cora: error:") and msg in err[0]
    assert not (tmp_path / "p2.npz").exists()


@pytest.mark.parametrize("arrays", [
    {"W0": np.array([[object()] * 6], dtype=object), "b0": np.zeros(1)},
    {"W0": np.array([["a"] * 6]), "b0": np.zeros(1)},
])
def test_non_numeric_policy_arrays_are_one_line(tmp_path, capsys, arrays):
    np.savez(tmp_path / "odd.npz", **arrays)
    assert main(["certify", "check", str(tmp_path / "odd.npz"), "--property", "all"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cora: error:") and "W0" in err[0]


def test_overflowing_network_gets_no_figure(tmp_path, capsys):
    """Finite weights whose products overflow float64: an error, never a 0.0 bound next to an
    infinite counterexample, never NaN or Infinity."""
    big = {"W0": np.full((1, 6), 1e300), "b0": np.zeros(1), "W1": np.full((1, 1), 1e300),
           "b1": np.zeros(1)}
    np.savez(tmp_path / "huge.npz", **big)
    np.save(tmp_path / "l.npy", np.zeros(6))
    np.save(tmp_path / "u.npy", np.ones(6))
    for argv in (["certify", "check", str(tmp_path / "huge.npz"), "--property", "all", "--json"],
                 ["certify", "bounds", str(tmp_path / "huge.npz"), "--lower",
                  str(tmp_path / "l.npy"), "--upper", str(tmp_path / "u.npy"), "--json"]):
        assert main(argv) == 1
        out = capsys.readouterr()
        assert "overflow" in out.err and "NaN" not in out.out and "Infinity" not in out.out
        for line in out.out.splitlines():  # whatever was printed before the error is strict
            json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_tanh_network_bounds(tmp_path):
    net = MLP([np.ones((2, 1)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)], "tanh")
    lb, ub = absint.output_bounds(net, np.array([-1.0]), np.array([1.0]))
    assert lb[0] <= 2 * np.tanh(-1) and ub[0] >= 2 * np.tanh(1) and ub[0] - lb[0] < 4.0


def test_train_and_eval_cli(tmp_path, capsys):
    out = tmp_path / "t.npz"
    assert main(["certify", "train", "-o", str(out), "--iterations", "2", "--hidden", "8",
                 "--population", "2", "--envs", "4", "--steps", "10", "--mode", "performance",
                 "--prop-weight", "probe=3", "--head", "linear"]) == 0
    net = load_policy(str(out))
    assert net.n_in == 6 and net.n_out == 1 and net.spec["trained"]["mode"] == "performance"
    assert net.output == "linear" and net.spec["trained"]["prop_weights"] == {"probe": 3.0}
    capsys.readouterr()
    assert main(["certify", "eval", str(out), "--envs", "8", "--steps", "20", "--baselines",
                 "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["controller"] for r in rows] == ["policy", "cubic", "bbr-like", "vegas-like"]
    assert all(0 <= r["utilisation"] <= 1 for r in rows)
