# Copyright: homelab.immich developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU detection for homelab.immich: read a host (or a recorded tree), parse, recommend.

Two halves:

* ``gather(root, run)`` reads sysfs/devfs/procfs below ``root`` and runs (or, in a recorded
  tree, reads) ``nvidia-smi`` and ``lspci``. It returns a plain ``snapshot`` dict.
* ``analyze(snapshot)`` and the ``parse_*`` helpers are pure functions: they turn the
  snapshot into the ``immich_gpu`` fact (``gpus``, ``cpu``, ``recommendation``).

Runs on Python 3.8+ (target hosts); no third-party imports.
"""

import os
import re
import shlex

NVIDIA_SMI_QUERY = ["--query-gpu=name,memory.total,driver_version,compute_cap", "--format=csv,noheader,nounits"]
LSPCI_ARGS = ["-nnmm"]

VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x1022": "amd", "0x8086": "intel"}
DISPLAY_CLASS_PREFIX = "0x03"  # 0x0300 VGA, 0x0302 3D controller, 0x0380 display

# CUDA rules (Immich ML -cuda image: ONNX Runtime GPU on CUDA 12)
CUDA_MIN_COMPUTE_CAP = (5, 2)
CUDA_MIN_DRIVER = 545

# x86-64-v2 (Immich v3 images): CMPXCHG16B, LAHF/SAHF, POPCNT, SSE3, SSSE3, SSE4.1, SSE4.2
X86_64_V2_FLAGS = ("cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2")

# gfx targets that the ROCm of the -rocm image does not ship kernels for, with the
# HSA_OVERRIDE_GFX_VERSION that makes the nearest supported target load.
HSA_OVERRIDES = {
    "gfx902": "9.0.0",
    "gfx909": "9.0.0",
    "gfx90c": "9.0.0",
    "gfx1010": "10.1.0",
    "gfx1012": "10.1.0",
    "gfx1031": "10.3.0",
    "gfx1032": "10.3.0",
    "gfx1033": "10.3.0",
    "gfx1034": "10.3.0",
    "gfx1035": "10.3.0",
    "gfx1036": "10.3.0",
    "gfx1102": "11.0.0",
    "gfx1103": "11.0.0",
    "gfx1150": "11.0.0",
    "gfx1151": "11.0.0",
}
AMD_IGPU_GFX = (
    "gfx902",
    "gfx909",
    "gfx90c",
    "gfx1033",
    "gfx1035",
    "gfx1036",
    "gfx1037",
    "gfx1103",
    "gfx1150",
    "gfx1151",
)
AMD_APU_DEVICE_IDS = (
    "0x15d8",  # Picasso
    "0x15dd",  # Raven Ridge
    "0x15e7",  # Barcelo
    "0x1636",  # Renoir
    "0x1638",  # Cezanne
    "0x164c",  # Lucienne
    "0x164e",  # Raphael
    "0x1681",  # Rembrandt (Radeon 680M)
    "0x15bf",  # Phoenix1 (Radeon 780M)
    "0x15c8",  # Phoenix2
    "0x13c0",  # Granite Ridge
    "0x150e",  # Strix Point
)
# Intel discrete GPUs (Arc Alchemist DG2 / Battlemage): device id prefixes
INTEL_DGPU_PREFIXES = ("0x56", "0xe20")

# Model names used when neither nvidia-smi nor lspci names a device.
KNOWN_MODELS = {
    ("0x10de", "0x2684"): "AD102 [GeForce RTX 4090]",
    ("0x10de", "0x28e0"): "AD107M [GeForce RTX 4060 Max-Q / Mobile]",
    ("0x10de", "0x1b80"): "GP104 [GeForce GTX 1080]",
    ("0x8086", "0xa7a0"): "Raptor Lake-P [Iris Xe Graphics]",
    ("0x8086", "0x56a0"): "DG2 [Arc A770]",
    ("0x1002", "0x744c"): "Navi 31 [Radeon RX 7900 XT/7900 XTX]",
    ("0x1002", "0x1681"): "Rembrandt [Radeon 680M]",
}

NVIDIA_ARCH = [
    ((12, 0), "Blackwell"),
    ((10, 0), "Blackwell"),
    ((9, 0), "Hopper"),
    ((8, 9), "Ada Lovelace"),
    ((8, 0), "Ampere"),
    ((7, 5), "Turing"),
    ((7, 0), "Volta"),
    ((6, 0), "Pascal"),
    ((5, 0), "Maxwell"),
    ((3, 0), "Kepler"),
]

BACKEND_SUFFIX = {
    "cuda": "-cuda",
    "rocm": "-rocm",
    "openvino": "-openvino",
    "armnn": "-armnn",
    "rknn": "-rknn",
    "cpu": "",
}

# device nodes whose presence the gatherer records (paths relative to /dev)
DEV_NODES = ("kfd", "mali0", "rga", "mpp_service", "dma_heap", "nvidia0", "nvidiactl", "nvidia-uvm")
# kernel modules whose presence (/sys/module/<name>) the gatherer records
KERNEL_MODULES = ("nvidia", "amdgpu", "i915", "xe", "rknpu", "mali_kbase")
# platform (non-PCI) DRM drivers
PLATFORM_GPU_DRIVERS = {
    "v3d": ("other", "Broadcom VideoCore (v3d)"),
    "vc4-drm": ("other", "Broadcom VideoCore (vc4)"),
    "vc4": ("other", "Broadcom VideoCore (vc4)"),
    "panfrost": ("arm", "Arm Mali (panfrost)"),
    "panthor": ("arm", "Arm Mali (panthor)"),
    "rknpu": ("rockchip", "Rockchip NPU"),
}
# UEFI global variable GUID of SecureBoot (efivarfs: 4 attribute bytes, then the value, 1 = enabled)
EFIVARS = "/sys/firmware/efi/efivars"
SECURE_BOOT_VAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
MALI_LIB = "/usr/lib/libmali.so"
MALI_FIRMWARE = "/lib/firmware/mali_csffw.bin"


# --------------------------------------------------------------------------------------------
# gathering (reads files below root; the only part that touches the host)
# --------------------------------------------------------------------------------------------


def _path(root, path):
    return os.path.join(root, path.lstrip("/"))


def _read(root, path, default=None):
    try:
        with open(_path(root, path), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return default


def _link_name(root, path):
    """Basename of a symlink target (sysfs ``driver`` links), or None."""
    full = _path(root, path)
    try:
        return os.path.basename(os.readlink(full).rstrip("/")) or None
    except OSError:
        return None


def _listdir(root, path):
    try:
        return sorted(n for n in os.listdir(_path(root, path)) if not n.startswith("."))
    except OSError:
        return []


def _exists(root, path):
    return os.path.lexists(_path(root, path))


def _secure_boot(root):
    """True/False from the SecureBoot EFI variable, None on a BIOS boot (no efivars) or when unreadable."""
    try:
        with open(_path(root, EFIVARS + "/" + SECURE_BOOT_VAR), "rb") as f:
            data = f.read()
    except OSError:
        return False if _exists(root, EFIVARS) else None
    return bool(data[4]) if len(data) >= 5 else None


def _recorded(root, name):
    """A recorded command result from ``<root>/commands/<name>.txt|.rc|.stderr``; None when absent."""
    out = _read(root, "/commands/%s.txt" % name)
    if out is None:
        return None
    rc_text = _read(root, "/commands/%s.rc" % name, "0").strip() or "0"
    return {"rc": int(rc_text), "stdout": out, "stderr": _read(root, "/commands/%s.stderr" % name, "")}


def gather(root, run=None, nvidia_smi="nvidia-smi", lspci="lspci", machine=None, cpu_count=None):
    """Collect everything the analysis needs into a dict.

    ``run(cmd_name, args)`` runs a command on the live host and returns
    ``{"rc", "stdout", "stderr"}``, or None when the command is not installed. When ``root`` is not
    "/", recorded outputs under ``<root>/commands/`` take the place of commands.
    """
    live = os.path.abspath(root) == "/"
    snap = {"pci": [], "platform": [], "dev": [], "kfd_nodes": [], "modules": [], "files": {}}
    for slot in _listdir(root, "/sys/bus/pci/devices"):
        base = "/sys/bus/pci/devices/%s" % slot
        cls = (_read(root, base + "/class") or "").strip().lower()
        if not cls.startswith(DISPLAY_CLASS_PREFIX):
            continue
        vram = (_read(root, base + "/mem_info_vram_total") or "").strip()
        snap["pci"].append(
            {
                "slot": slot,
                "class": cls,
                "vendor": (_read(root, base + "/vendor") or "").strip().lower(),
                "device": (_read(root, base + "/device") or "").strip().lower(),
                "driver": _link_name(root, base + "/driver"),
                "drm": [n for n in _listdir(root, base + "/drm") if re.match(r"^(card|renderD)\d+$", n)],
                "vram_bytes": int(vram) if vram.isdigit() else None,
                "boot_vga": (_read(root, base + "/boot_vga") or "").strip() == "1",
            }
        )
    for name in _listdir(root, "/sys/class/drm"):
        if not re.match(r"^card\d+$", name):
            continue
        dev = "/sys/class/drm/%s/device" % name
        if _read(root, dev + "/vendor") is not None and _exists(root, dev + "/class"):
            continue  # a PCI device, already seen above
        driver = _link_name(root, dev + "/driver")
        nodes = [n for n in _listdir(root, dev + "/drm") if re.match(r"^(card|renderD)\d+$", n)] or [name]
        snap["platform"].append({"name": name, "driver": driver, "drm": nodes})
    for node in DEV_NODES:
        if _exists(root, "/dev/" + node):
            snap["dev"].append("/dev/" + node)
    for node in _listdir(root, "/dev/dri"):
        snap["dev"].append("/dev/dri/" + node)
    for node in _listdir(root, "/sys/class/kfd/kfd/topology/nodes"):
        props = _read(root, "/sys/class/kfd/kfd/topology/nodes/%s/properties" % node)
        if props:
            snap["kfd_nodes"].append(props)
    for mod in KERNEL_MODULES:
        if _exists(root, "/sys/module/" + mod):
            snap["modules"].append(mod)
    snap["mali_gpuinfo"] = (_read(root, "/sys/class/misc/mali0/device/gpuinfo") or "").strip() or None
    snap["dt_model"] = (_read(root, "/proc/device-tree/model") or "").strip("\x00\n ") or None
    snap["dt_compatible"] = [c for c in (_read(root, "/proc/device-tree/compatible") or "").split("\x00") if c.strip()]
    for path in (MALI_LIB, MALI_FIRMWARE):
        snap["files"][path] = _exists(root, path)
    snap["secure_boot"] = _secure_boot(root)
    snap["cpuinfo"] = _read(root, "/proc/cpuinfo", "")
    snap["meminfo"] = _read(root, "/proc/meminfo", "")
    if live:
        snap["machine"] = machine or os.uname()[4]
        snap["cpu_count"] = cpu_count if cpu_count is not None else os.cpu_count()
    else:
        snap["machine"] = (_read(root, "/commands/uname-m.txt") or "").strip() or machine
        snap["cpu_count"] = None

    has_nvidia = any(p["vendor"] == "0x10de" for p in snap["pci"])
    snap["nvidia_smi"] = None
    snap["lspci"] = None
    if has_nvidia:
        snap["nvidia_smi"] = (
            run(nvidia_smi, NVIDIA_SMI_QUERY) if live and run else _recorded(root, "nvidia-smi") if not live else None
        )
        if snap["nvidia_smi"] is None:
            snap["nvidia_smi"] = {"rc": None, "stdout": "", "stderr": "", "missing": True}
    if snap["pci"]:
        snap["lspci"] = run(lspci, LSPCI_ARGS) if live and run else _recorded(root, "lspci") if not live else None
    return snap


# --------------------------------------------------------------------------------------------
# parsers (pure)
# --------------------------------------------------------------------------------------------


def parse_nvidia_smi(text):
    """Rows of ``nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader,nounits``."""
    rows = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        name, mem, drv, cap = parts[0], parts[1], parts[2], parts[3]
        try:
            mem_mb = int(float(mem))
        except ValueError:
            mem_mb = None
        cap = cap if re.match(r"^\d+\.\d+$", cap) else None
        rows.append({"name": name, "memory_mb": mem_mb, "driver_version": drv or None, "compute_cap": cap})
    return rows


def _strip_id(text):
    return re.sub(r"\s*\[[0-9a-fA-F]{4}\]$", "", text or "").strip()


def parse_lspci_nnmm(text):
    """``lspci -nnmm`` lines -> {"0000:01:00.0": {"vendor_name", "device_name", "class_name"}}."""
    out = {}
    for line in (text or "").splitlines():
        try:
            fields = shlex.split(line)
        except ValueError:
            continue
        if len(fields) < 4:
            continue
        slot = fields[0]
        if slot.count(":") == 1:
            slot = "0000:" + slot
        out[slot.lower()] = {
            "class_name": _strip_id(fields[1]),
            "vendor_name": _strip_id(fields[2]),
            "device_name": _strip_id(fields[3]),
        }
    return out


def parse_cpuinfo(text):
    """-> {"processors": int, "flags": set}."""
    processors = 0
    flags = set()
    for line in (text or "").splitlines():
        key, _sep, value = line.partition(":")
        key = key.strip().lower()
        if key == "processor":
            processors += 1
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return {"processors": processors, "flags": flags}


def parse_meminfo(text):
    """MemTotal in MiB, or None."""
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", text or "", re.M)
    return int(m.group(1)) // 1024 if m else None


def parse_kfd_properties(text):
    """A KFD topology node -> {"gfx": "gfx1100", "slot": "0000:03:00.0"}; None for CPU nodes."""
    props = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            props[parts[0]] = int(parts[1])
    ver = props.get("gfx_target_version", 0)
    if not ver:
        return None
    major, minor, step = ver // 10000, (ver // 100) % 100, ver % 100
    gfx = "gfx%d%d%s" % (major, minor, format(step, "x"))
    loc = props.get("location_id", 0)
    slot = "%04x:%02x:%02x.%d" % (props.get("domain", 0), loc >> 8, (loc >> 3) & 0x1F, loc & 0x7)
    return {"gfx": gfx, "slot": slot}


def compute_cap_tuple(cap):
    try:
        major, minor = cap.split(".")
        return int(major), int(minor)
    except (AttributeError, ValueError):
        return None


def nvidia_arch(cap):
    cc = compute_cap_tuple(cap)
    if cc is None:
        return None
    for floor, name in NVIDIA_ARCH:
        if cc >= floor:
            return name
    return "pre-Kepler"


def driver_major(version):
    m = re.match(r"^(\d+)", version or "")
    return int(m.group(1)) if m else None


def cpu_facts(snap):
    info = parse_cpuinfo(snap.get("cpuinfo"))
    arch = snap.get("machine") or ("x86_64" if "sse2" in info["flags"] else None)
    cores = snap.get("cpu_count") or info["processors"] or 1
    v2 = None
    missing = []
    if arch in ("x86_64", "amd64"):
        missing = [f for f in X86_64_V2_FLAGS if f not in info["flags"]]
        v2 = not missing
    return {
        "arch": arch,
        "cores": int(cores),
        "memory_mb": parse_meminfo(snap.get("meminfo")),
        "x86_64_v2": v2,
        "x86_64_v2_missing": missing,
    }


# --------------------------------------------------------------------------------------------
# analysis (pure)
# --------------------------------------------------------------------------------------------


def _nodes(drm):
    card = next(("/dev/dri/" + n for n in drm if n.startswith("card")), None)
    render = next(("/dev/dri/" + n for n in drm if n.startswith("renderD")), None)
    return card, render


def build_gpus(snap):
    """The ``gpus`` list: PCI display devices (sorted by slot), then SoC GPUs/NPUs."""
    names = parse_lspci_nnmm((snap.get("lspci") or {}).get("stdout"))
    smi = snap.get("nvidia_smi") or {}
    smi_rows = parse_nvidia_smi(smi.get("stdout")) if smi.get("rc") == 0 else []
    kfd = {}
    for props in snap.get("kfd_nodes", []):
        node = parse_kfd_properties(props)
        if node:
            kfd[node["slot"]] = node["gfx"]
    gpus = []
    nvidia_bound = 0
    for pci in sorted(snap.get("pci", []), key=lambda p: p["slot"]):
        vendor = VENDORS.get(pci["vendor"], "other")
        card, render = _nodes(pci["drm"])
        lsname = names.get(pci["slot"].lower(), {}).get("device_name")
        gpu = {
            "vendor": vendor,
            "vendor_id": pci["vendor"],
            "device_id": pci["device"],
            "pci_slot": pci["slot"],
            "model": lsname or KNOWN_MODELS.get((pci["vendor"], pci["device"])) or "%s %s" % (vendor, pci["device"]),
            "vram_mb": pci["vram_bytes"] // (1024 * 1024) if pci.get("vram_bytes") else None,
            "driver": pci["driver"],
            "driver_version": None,
            "compute_cap": None,
            "render_node": render,
            "card_node": card,
            "kind": "discrete",
            "gfx": None,
            "cuda_index": None,
        }
        if vendor == "nvidia" and pci["driver"] == "nvidia":
            # nvidia-smi lists the GPUs bound to the driver in PCI bus order (its default)
            gpu["cuda_index"] = nvidia_bound
            if nvidia_bound < len(smi_rows):
                row = smi_rows[nvidia_bound]
                gpu["model"] = row["name"]
                gpu["vram_mb"] = row["memory_mb"]
                gpu["driver_version"] = row["driver_version"]
                gpu["compute_cap"] = row["compute_cap"]
            nvidia_bound += 1
        elif vendor == "amd":
            gpu["gfx"] = kfd.get(pci["slot"].lower())
            if pci["device"] in AMD_APU_DEVICE_IDS or gpu["gfx"] in AMD_IGPU_GFX:
                gpu["kind"] = "integrated"
        elif vendor == "intel":
            gpu["kind"] = "discrete" if pci["device"].startswith(INTEL_DGPU_PREFIXES) else "integrated"
        gpus.append(gpu)

    dev = set(snap.get("dev", []))
    compat = snap.get("dt_compatible") or []
    soc = next((c.split(",", 1)[1] for c in compat if c.startswith("rockchip,rk")), None)
    seen_mali = False
    for plat in snap.get("platform", []):
        drv = (plat.get("driver") or "").lower()
        if drv not in PLATFORM_GPU_DRIVERS:
            continue
        vendor, model = PLATFORM_GPU_DRIVERS[drv]
        if drv == "vc4" or (drv == "vc4-drm" and any(g["driver"] == "v3d" for g in gpus)):
            continue  # vc4 is the display engine of the same VideoCore; v3d is the 3D part
        if drv == "rknpu" and soc:
            model = "Rockchip %s NPU" % soc.upper()
        card, render = _nodes(plat["drm"])
        seen_mali = seen_mali or vendor == "arm"
        gpus.append(_soc_gpu(vendor, model, plat.get("driver"), card, render))
    if "/dev/mali0" in dev and not seen_mali:
        info = snap.get("mali_gpuinfo")
        model = "Arm %s" % info.split(" ")[0] if info else "Arm Mali"
        gpus.append(
            _soc_gpu("arm", model, "mali_kbase" if "mali_kbase" in snap.get("modules", []) else "mali", None, None)
        )
    if "rknpu" in snap.get("modules", []) and not any(g["vendor"] == "rockchip" for g in gpus):
        gpus.append(_soc_gpu("rockchip", "Rockchip %s NPU" % (soc or "").upper(), "rknpu", None, None))
    return gpus


def _soc_gpu(vendor, model, driver, card, render):
    return {
        "vendor": vendor,
        "vendor_id": None,
        "device_id": None,
        "pci_slot": None,
        "model": model.strip(),
        "vram_mb": None,
        "driver": driver,
        "driver_version": None,
        "compute_cap": None,
        "render_node": render,
        "card_node": card,
        "kind": "soc",
        "gfx": None,
        "cuda_index": None,
    }


def _evaluate(gpu, snap, warnings):
    """-> (backend or None, capacity, why, driver_needed). Appends warnings."""
    dev = set(snap.get("dev", []))
    where = "%s (%s)" % (gpu["model"], gpu["pci_slot"] or "SoC")
    vendor, driver = gpu["vendor"], gpu["driver"]
    if vendor == "nvidia":
        smi = snap.get("nvidia_smi") or {}
        if driver == "vfio-pci":
            warnings.append("%s is bound to vfio-pci (passed through to a VM); not used here." % where)
            return None, 0, "passed through to a VM", None
        if driver != "nvidia":
            warnings.append(
                "%s has %s bound; CUDA needs the proprietary NVIDIA driver: install it (role homelab.immich.gpu), "
                "ML stays on the CPU until then." % (where, "no driver" if not driver else "the %s driver" % driver)
            )
            return None, 0, "no NVIDIA driver bound", "nvidia"
        if smi.get("missing"):
            warnings.append(
                "%s: the nvidia kernel driver is bound but nvidia-smi is missing: the NVIDIA user space "
                "(nvidia-smi, libnvidia-ml) is not installed; ML stays on the CPU until it is." % where
            )
            return None, 0, "nvidia-smi missing", "nvidia"
        if smi.get("rc") != 0:
            err = ((smi.get("stderr") or "") + (smi.get("stdout") or "")).strip().splitlines()
            warnings.append(
                "%s: nvidia-smi failed (rc %s: %s); the driver is not usable (kernel module and user space "
                "versions differ after an update? reboot); ML stays on the CPU."
                % (where, smi.get("rc"), err[0] if err else "")
            )
            return None, 0, "nvidia-smi failed", None
        cc = compute_cap_tuple(gpu["compute_cap"])
        if cc is None:
            warnings.append("%s: nvidia-smi did not report a compute capability; CUDA not selected." % where)
            return None, 0, "unknown compute capability", None
        arch = nvidia_arch(gpu["compute_cap"])
        if cc < CUDA_MIN_COMPUTE_CAP:
            warnings.append(
                "%s: compute capability %s (%s) is below 5.2, the minimum of Immich's -cuda image."
                % (where, gpu["compute_cap"], arch)
            )
            return None, 0, "compute capability below 5.2", None
        major = driver_major(gpu["driver_version"])
        if major is not None and major < CUDA_MIN_DRIVER:
            warnings.append(
                "%s: NVIDIA driver %s is older than %d, which the -cuda image (CUDA 12) needs: upgrade the driver."
                % (where, gpu["driver_version"], CUDA_MIN_DRIVER)
            )
            return None, 0, "driver older than %d" % CUDA_MIN_DRIVER, "nvidia"
        if cc[0] >= 10:
            warnings.append(
                "%s: %s (sm_%d%d) may not be supported by the ONNX Runtime of the -cuda image; it can fall back to "
                "the CPU silently: check the ML log for CUDAExecutionProvider." % (where, arch, cc[0], cc[1])
            )
        elif cc < (7, 0):
            warnings.append(
                "%s: %s (compute capability %s): recent -cuda images (ONNX Runtime after Immich v2.5) may not run on "
                "Maxwell/Pascal; check the ML log for CUDAExecutionProvider or pin an older ML image."
                % (where, arch, gpu["compute_cap"])
            )
        vram_gb = (gpu["vram_mb"] or 0) // 1024
        capacity = 30 + 2 * vram_gb + 10 * max(0, cc[0] - 5)
        return (
            "cuda",
            capacity,
            "NVIDIA %s, compute capability %s, driver %s"
            % (
                arch,
                gpu["compute_cap"],
                gpu["driver_version"],
            ),
            None,
        )
    if vendor == "amd":
        if driver != "amdgpu":
            warnings.append(
                "%s has %s bound; ROCm needs amdgpu." % (where, "no driver" if not driver else "the %s driver" % driver)
            )
            return None, 0, "amdgpu not bound", "amdgpu"
        if not gpu["render_node"] or gpu["render_node"] not in dev:
            warnings.append("%s: no render node under /dev/dri; ROCm cannot use it." % where)
            return None, 0, "no render node", None
        if "/dev/kfd" not in dev:
            warnings.append("%s: /dev/kfd is missing (amdgpu without KFD/HSA); ROCm cannot use this GPU." % where)
            return None, 0, "no /dev/kfd", None
        if gpu["kind"] == "integrated":
            warnings.append(
                "%s is an integrated GPU (APU) sharing system memory; ROCm on APUs is unofficial and may be slower "
                "than the CPU." % where
            )
            capacity = 12
        else:
            capacity = 25 + 2 * ((gpu["vram_mb"] or 0) // 1024)
        if gpu["gfx"] is None:
            warnings.append("%s: gfx target unknown (no KFD topology); HSA_OVERRIDE_GFX_VERSION may be needed." % where)
        return "rocm", capacity, "AMD %s GPU%s" % (gpu["kind"], ", %s" % gpu["gfx"] if gpu["gfx"] else ""), None
    if vendor == "intel":
        if driver not in ("i915", "xe"):
            warnings.append("%s has %s bound; OpenVINO needs i915 or xe." % (where, driver or "no driver"))
            return None, 0, "i915/xe not bound", None
        if not gpu["render_node"] or gpu["render_node"] not in dev:
            warnings.append("%s: no render node under /dev/dri; OpenVINO cannot use it." % where)
            return None, 0, "no render node", None
        capacity = 40 if gpu["kind"] == "discrete" else 10
        return "openvino", capacity, "Intel %s GPU (%s)" % (gpu["kind"], driver), None
    if vendor == "arm":
        if "/dev/mali0" not in dev:
            warnings.append(
                "%s: ARM NN needs the vendor Mali kernel driver (/dev/mali0); %s is not supported." % (where, driver)
            )
            return None, 0, "no /dev/mali0", None
        if not snap.get("files", {}).get(MALI_LIB):
            warnings.append(
                "%s: %s (closed-source Mali user space) is missing on the host; ARM NN needs it mounted."
                % (where, MALI_LIB)
            )
        return "armnn", 4, "Arm Mali GPU (/dev/mali0)", None
    if vendor == "rockchip":
        return "rknn", 6, "Rockchip NPU (rknpu driver)", None
    if gpu["driver"] in ("v3d", "vc4-drm", "vc4"):
        warnings.append(
            "%s: the Raspberry Pi's VideoCore GPU has no Immich ML backend (ARM NN needs a Mali GPU); ML runs on the "
            "CPU." % where
        )
    return None, 0, "no Immich ML backend for this device", None


def _transcode(gpu, snap):
    """-> (mode, devices, cdi) for one GPU, or None."""
    dev = set(snap.get("dev", []))
    smi = snap.get("nvidia_smi") or {}
    if gpu["vendor"] == "nvidia" and gpu["driver"] == "nvidia" and smi.get("rc") == 0:
        return "nvenc", [], ["nvidia.com/gpu=%d" % gpu["cuda_index"]]
    if gpu["vendor"] == "intel" and gpu["driver"] in ("i915", "xe") and gpu["render_node"] in dev:
        return "qsv", [gpu["render_node"]], []
    if gpu["vendor"] == "amd" and gpu["driver"] == "amdgpu" and gpu["render_node"] in dev:
        return "vaapi", [gpu["render_node"]], []
    if gpu["vendor"] == "rockchip" and "/dev/mpp_service" in dev:
        nodes = [
            n for n in ("/dev/rga", "/dev/dri", "/dev/dma_heap", "/dev/mpp_service") if n in dev or n == "/dev/dri"
        ]
        return "rkmpp", nodes, []
    return None


def recommend(gpus, cpu, snap):
    warnings = []
    evaluated = []
    driver_needed = None
    for idx, gpu in enumerate(gpus):
        backend, capacity, why, needed = _evaluate(gpu, snap, warnings)
        gpu["usable"] = backend is not None
        gpu["ml_backend"] = backend
        gpu["capacity"] = capacity
        gpu["note"] = why
        if needed and not driver_needed:
            driver_needed = needed
        if backend:
            evaluated.append((capacity, -idx, idx, backend, why))
    if snap.get("secure_boot") and driver_needed == "nvidia":
        warnings.append(
            "Secure Boot is enabled: the NVIDIA kernel module built by DKMS is unsigned and will not load, so a reboot "
            "alone does not help. Either enroll the DKMS signing key (mokutil --import /var/lib/dkms/mok.pub, then "
            "confirm it in the MOK manager at the next boot, at the console), or install the distribution's signed "
            "NVIDIA modules (Ubuntu: linux-modules-nvidia-<version>-generic), or disable Secure Boot in the firmware. "
            "ML stays on the CPU until the module loads."
        )
    if cpu.get("x86_64_v2") is False:
        warnings.append(
            "The CPU lacks x86-64-v2 (missing flags: %s): Immich v3 images need it and will not start on this host."
            % ", ".join(cpu.get("x86_64_v2_missing", []))
        )
    rec = {
        "ml_backend": "cpu",
        "ml_image_suffix": "",
        "reason": "",
        "transcode_accel": "disabled",
        "transcode_devices": [],
        "transcode_cdi_devices": [],
        "devices": [],
        "cdi_devices": [],
        "groups": [],
        "environment": {},
        "mounts": [],
        "security_opt": [],
        "driver_needed": driver_needed,
        "secure_boot": snap.get("secure_boot"),
        "driver_blocked_by_secure_boot": bool(snap.get("secure_boot") and driver_needed == "nvidia"),
        "capacity": max(1, cpu.get("cores", 1) // 2),
        "selected_gpu": None,
        "warnings": warnings,
    }
    if evaluated:
        evaluated.sort(reverse=True)
        capacity, _neg, idx, backend, why = evaluated[0]
        gpu = gpus[idx]
        rec.update(ml_backend=backend, capacity=capacity, selected_gpu=idx)
        reason = "%s: %s (capacity %d)" % (gpu["model"], why, capacity)
        if len(evaluated) > 1:
            others = ", ".join("%s (%s, capacity %d)" % (gpus[e[2]]["model"], e[3], e[0]) for e in evaluated[1:])
            reason += "; chosen as the strongest of the usable GPUs, over %s" % others
        rec["reason"] = reason
        if backend == "cuda":
            rec["cdi_devices"] = ["nvidia.com/gpu=%d" % gpu["cuda_index"]]
        elif backend == "rocm":
            rec["devices"] = ["/dev/kfd", gpu["render_node"]]
            rec["groups"] = ["video", "render"]
            override = HSA_OVERRIDES.get(gpu["gfx"] or "")
            if override:
                rec["environment"]["HSA_OVERRIDE_GFX_VERSION"] = override
        elif backend == "openvino":
            rec["devices"] = [gpu["render_node"]]
            rec["groups"] = ["video", "render"]
        elif backend == "armnn":
            rec["devices"] = ["/dev/mali0"]
            rec["groups"] = ["video"]
            rec["mounts"] = ["%s:%s:ro" % (p, p) for p in (MALI_LIB, MALI_FIRMWARE) if snap.get("files", {}).get(p)]
        elif backend == "rknn":
            rec["devices"] = ["/dev/dri"]
            rec["groups"] = ["video", "render"]
            rec["security_opt"] = ["systempaths=unconfined", "apparmor=unconfined"]
    elif gpus:
        notes = "; ".join("%s: %s" % (g["model"], g["note"]) for g in gpus)
        rec["reason"] = "no usable GPU (%s); ML runs on the CPU (%d cores)" % (notes, cpu.get("cores", 1))
    else:
        rec["reason"] = "no GPU or NPU found; ML runs on the CPU (%d cores)" % cpu.get("cores", 1)
    rec["ml_image_suffix"] = BACKEND_SUFFIX[rec["ml_backend"]]

    # transcoding: the selected GPU first, then any other usable encoder
    order = ([gpus[rec["selected_gpu"]]] if rec["selected_gpu"] is not None else []) + gpus
    for gpu in order:
        found = _transcode(gpu, snap)
        if found:
            rec["transcode_accel"], rec["transcode_devices"], rec["transcode_cdi_devices"] = found
            break
    return rec


def analyze(snap):
    """Snapshot -> the ``immich_gpu`` fact."""
    cpu = cpu_facts(snap)
    gpus = build_gpus(snap)
    rec = recommend(gpus, cpu, snap)
    return {"gpus": gpus, "cpu": cpu, "recommendation": rec}
