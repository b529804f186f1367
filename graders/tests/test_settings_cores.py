"""Usable cores: CPU affinity capped by every cgroup CPU quota, v1 and v2, read on fake cgroup trees."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from graders.grading.settings import cgroup_cpu_quotas, usable_cores


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _mountinfo(*mounts: tuple[str, str, str, str]) -> str:
    """mountinfo lines for (type, root in the hierarchy, mount point, super options)."""
    lines = ["23 1 0:21 / / rw,relatime - overlay overlay rw", "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw"]
    for number, (kind, root, point, options) in enumerate(mounts, start=40):
        lines.append(f"{number} 31 0:{number} {root} {point} rw,nosuid shared:{number} - {kind} {kind} {options}")
    return "\n".join(lines) + "\n"


def _v2(tmp_path: Path, point: str, quotas: dict[str, str], own: str) -> Path:
    """A v2 hierarchy mounted at ``point`` with cpu.max files; the process sits in ``own``."""
    top = tmp_path / point.lstrip("/")
    _write(top / "cgroup.controllers", "cpu pids memory\n")
    for folder, cpu_max in quotas.items():
        _write(top / folder.lstrip("/") / "cpu.max", cpu_max + "\n")
    (top / own.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return top


def _v1(tmp_path: Path, point: str, quotas: dict[str, tuple[int, int]]) -> Path:
    top = tmp_path / point.lstrip("/")
    for folder, (quota, period) in quotas.items():
        _write(top / folder.lstrip("/") / "cpu.cfs_quota_us", f"{quota}\n")
        _write(top / folder.lstrip("/") / "cpu.cfs_period_us", f"{period}\n")
    return top


@pytest.fixture
def affinity(monkeypatch):
    """Pretend this process may run on ``n`` CPUs."""

    def pretend(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)

    return pretend


def test_pure_v2_quota_of_own_cgroup_caps_the_affinity(tmp_path, affinity):
    affinity(8)
    _v2(tmp_path, "/sys/fs/cgroup", {"/user.slice/app": "300000 100000"}, own="/user.slice/app")
    _write(tmp_path / "proc/self/cgroup", "0::/user.slice/app\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup2", "/", "/sys/fs/cgroup", "rw,nsdelegate")))
    assert cgroup_cpu_quotas(tmp_path) == [3.0]
    assert usable_cores(tmp_path) == 3


def test_v2_quota_of_an_ancestor_binds_and_the_smallest_wins(tmp_path, affinity):
    affinity(16)
    _v2(
        tmp_path,
        "/sys/fs/cgroup",
        {"/a/b/c": "max 100000", "/a/b": "600000 100000", "/a": "250000 100000"},
        own="/a/b/c",
    )
    _write(tmp_path / "proc/self/cgroup", "0::/a/b/c\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup2", "/", "/sys/fs/cgroup", "rw")))
    assert sorted(cgroup_cpu_quotas(tmp_path)) == [2.5, 6.0]
    assert usable_cores(tmp_path) == 2


def test_hybrid_reads_the_unified_mount_and_v1_cpu_and_takes_the_smallest(tmp_path, affinity):
    affinity(8)
    _v2(tmp_path, "/sys/fs/cgroup/unified", {"/job": "500000 100000"}, own="/job")
    _v1(tmp_path, "/sys/fs/cgroup/cpu,cpuacct", {"/job": (150000, 50000), "/": (-1, 100000)})
    _write(
        tmp_path / "proc/self/cgroup",
        "12:pids:/job\n4:cpu,cpuacct:/job\n1:name=systemd:/job\n0::/job\n",
    )
    _write(
        tmp_path / "proc/self/mountinfo",
        _mountinfo(
            ("cgroup", "/", "/sys/fs/cgroup/cpu,cpuacct", "rw,cpu,cpuacct"),
            ("cgroup", "/", "/sys/fs/cgroup/pids", "rw,pids"),
            ("cgroup2", "/", "/sys/fs/cgroup/unified", "rw"),
        ),
    )
    assert sorted(cgroup_cpu_quotas(tmp_path)) == [3.0, 5.0]
    assert usable_cores(tmp_path) == 3


def test_v1_quota_of_an_ancestor_binds(tmp_path, affinity):
    affinity(8)
    _v1(tmp_path, "/sys/fs/cgroup/cpu", {"/docker/abc/inner": (-1, 100000), "/docker/abc": (200000, 100000)})
    _write(tmp_path / "proc/self/cgroup", "3:cpu:/docker/abc/inner\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup", "/", "/sys/fs/cgroup/cpu", "rw,cpu")))
    assert usable_cores(tmp_path) == 2


def test_a_mount_whose_root_is_the_container_cgroup_maps_the_path_below_it(tmp_path, affinity):
    # A container without a cgroup namespace: /proc/self/cgroup names the host's path, while the
    # mount shows only the container's own cgroup at its mount point.
    affinity(8)
    _v1(tmp_path, "/sys/fs/cgroup/cpu", {"/": (100000, 100000), "/worker": (-1, 100000)})
    _write(tmp_path / "proc/self/cgroup", "5:cpu:/docker/abc/worker\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup", "/docker/abc", "/sys/fs/cgroup/cpu", "rw,cpu")))
    assert cgroup_cpu_quotas(tmp_path) == [1.0]
    assert usable_cores(tmp_path) == 1


def test_a_cgroup_outside_the_mount_reads_only_the_mount_point(tmp_path, affinity):
    affinity(4)
    _v2(tmp_path, "/sys/fs/cgroup", {"/": "200000 100000"}, own="/")
    _write(tmp_path / "proc/self/cgroup", "0::/../../elsewhere\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup2", "/", "/sys/fs/cgroup", "rw")))
    assert usable_cores(tmp_path) == 2


def test_a_quota_below_one_core_still_leaves_one(tmp_path, affinity):
    affinity(4)
    _v2(tmp_path, "/sys/fs/cgroup", {"/slow": "20000 100000"}, own="/slow")
    _write(tmp_path / "proc/self/cgroup", "0::/slow\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup2", "/", "/sys/fs/cgroup", "rw")))
    assert cgroup_cpu_quotas(tmp_path) == [0.2]
    assert usable_cores(tmp_path) == 1


def test_the_affinity_wins_when_it_is_smaller_than_every_quota(tmp_path, affinity):
    affinity(2)
    _v2(tmp_path, "/sys/fs/cgroup", {"/big": "800000 100000"}, own="/big")
    _write(tmp_path / "proc/self/cgroup", "0::/big\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup2", "/", "/sys/fs/cgroup", "rw")))
    assert usable_cores(tmp_path) == 2


def test_no_quota_anywhere_leaves_the_affinity(tmp_path, affinity):
    affinity(6)
    _v2(tmp_path, "/sys/fs/cgroup/unified", {}, own="/")
    _v1(tmp_path, "/sys/fs/cgroup/cpu", {"/": (-1, 100000)})
    _write(tmp_path / "proc/self/cgroup", "2:cpu:/\n0::/\n")
    _write(
        tmp_path / "proc/self/mountinfo",
        _mountinfo(("cgroup2", "/", "/sys/fs/cgroup/unified", "rw"), ("cgroup", "/", "/sys/fs/cgroup/cpu", "rw,cpu")),
    )
    assert cgroup_cpu_quotas(tmp_path) == []
    assert usable_cores(tmp_path) == 6


def test_without_mountinfo_the_usual_places_are_read(tmp_path, affinity):
    affinity(8)
    _v2(tmp_path, "/sys/fs/cgroup/unified", {"/x": "400000 100000"}, own="/x")
    _v1(tmp_path, "/sys/fs/cgroup/cpu,cpuacct", {"/": (-1, 100000), "/x": (300000, 100000)})
    _write(tmp_path / "proc/self/cgroup", "4:cpu,cpuacct:/x\n0::/x\n")
    assert sorted(cgroup_cpu_quotas(tmp_path)) == [3.0, 4.0]
    assert usable_cores(tmp_path) == 3


def test_malformed_or_missing_files_are_ignored(tmp_path, affinity):
    affinity(3)
    _v2(tmp_path, "/sys/fs/cgroup", {"/a": "garbage\n", "/": "100000 0"}, own="/a/b")
    _write(tmp_path / "proc/self/cgroup", "nonsense\n0::/a/b\n")
    _write(tmp_path / "proc/self/mountinfo", "not a mount line\n" + _mountinfo(("cgroup2", "/", "/sys/fs/cgroup", "rw")))
    assert cgroup_cpu_quotas(tmp_path) == []
    assert usable_cores(tmp_path) == 3
    assert usable_cores(tmp_path / "nothing-here") == 3


def test_a_mount_point_with_a_space_is_unescaped(tmp_path, affinity):
    affinity(8)
    _v2(tmp_path, "/mnt/cg root", {"/s": "100000 50000"}, own="/s")
    _write(tmp_path / "proc/self/cgroup", "0::/s\n")
    _write(tmp_path / "proc/self/mountinfo", _mountinfo(("cgroup2", "/", "/mnt/cg\\040root", "rw")))
    assert usable_cores(tmp_path) == 2


def test_this_machine_gives_at_least_one_core_and_no_more_than_the_affinity():
    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))
