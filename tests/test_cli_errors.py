"""The command line tells usage errors (one line, exit 1) from bugs (reported as internal, traceback on request,
exit 3), and Ctrl-C from both (exit 130, saying what was kept)."""
from __future__ import annotations

import pytest

from mmzoo import cli


def test_an_unknown_tag_fails_in_info_as_it_does_in_create(capsys):
    assert cli.main(["info", "intermediate_cat.badtag"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mmzoo: error: 'intermediate_cat' has no pretrained tag 'badtag'") and "Traceback" not in err


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_reported_as_internal_with_the_traceback_on_request(monkeypatch, capsys, debug):
    def broken(args):
        return {}["missing"]  # a KeyError from a failed lookup: a bug, whatever its message

    monkeypatch.setattr(cli._models, "_cmd_list", broken)
    assert cli.main(["--debug", "list"] if debug else ["list"]) == 3
    err = capsys.readouterr().err
    assert ("Traceback" in err) == debug
    if not debug:
        assert "mmzoo: internal error: KeyError" in err and "--debug" in err


def test_ctrl_c_says_that_rerunning_resumes(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._models, "_cmd_list", interrupted)
    assert cli.main(["list"]) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
