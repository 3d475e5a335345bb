#!/usr/bin/python
# Copyright: homelab.immich developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Detect GPUs and NPUs and recommend the Immich ML image variant, devices and transcoding mode
version_added: "0.1.0"
description:
  - Reads C(/sys/bus/pci/devices) (display-class devices of NVIDIA C(0x10de), AMD C(0x1002), Intel C(0x8086)
    and others), C(/sys/class/drm) and the C(/dev/dri) render nodes, C(/dev/kfd), C(/dev/mali0), the Rockchip
    NPU driver, the bound kernel driver of each device, the AMD KFD topology (gfx target), C(/proc/cpuinfo)
    (x86-64-v2 flags, core count) and C(/proc/meminfo).
  - Runs C(nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader,nounits)
    only when an NVIDIA device is present, and C(lspci -nnmm) only when a display device is present, so a host
    without a GPU is answered from sysfs alone, in well under a second.
  - Recommends the Immich machine-learning backend (C(cuda), C(rocm), C(openvino), C(armnn), C(rknn) or C(cpu))
    with its reason, the transcoding mode, the container devices, CDI names, groups and environment, warnings,
    and a capacity score that weights ML workers.
  - "Rules: CUDA needs compute capability 5.2 or more and driver 545 or newer; Blackwell (sm_100/sm_120) and
    Maxwell/Pascal get a warning; ROCm needs C(/dev/kfd) and, for some gfx targets, C(HSA_OVERRIDE_GFX_VERSION);
    Intel iGPUs and Arc use OpenVINO; with several usable GPUs the strongest is chosen and the reason says why;
    an NVIDIA GPU without a bound driver sets C(driver_needed=nvidia) and the backend stays C(cpu)."
  - Changes nothing on the host.
author:
  - homelab.immich developers (@homelab)
options:
  root:
    description:
      - Path prefix of the tree to read. C(/) reads the live host.
      - Any other value reads a recorded tree (tests); recorded command outputs
        C(commands/nvidia-smi.txt), C(commands/nvidia-smi.rc), C(commands/nvidia-smi.stderr),
        C(commands/lspci.txt) and C(commands/uname-m.txt) below it take the place of the commands.
        A missing C(commands/nvidia-smi.txt) stands for a missing C(nvidia-smi).
    type: path
    default: /
  nvidia_smi:
    description:
      - Path or command name of C(nvidia-smi) on the live host.
    type: str
    default: nvidia-smi
  lspci:
    description:
      - Path or command name of C(lspci) on the live host.
    type: str
    default: lspci
attributes:
  check_mode:
    description: Can run in check_mode and return the same facts; it never changes anything.
    support: full
  diff_mode:
    description: Returns no diff; nothing changes.
    support: none
  facts:
    description: Sets the fact C(immich_gpu).
    support: full
notes:
  - nvidia-smi lists the GPUs bound to the driver in PCI bus order; its rows are matched to the PCI devices bound
    to C(nvidia) in that order, and that index is the CDI name C(nvidia.com/gpu=<index>) that
    C(nvidia-ctk cdi generate) writes.
seealso:
  - name: Immich hardware-accelerated machine learning
    description: Backends and their prerequisites.
    link: https://docs.immich.app/features/ml-hardware-acceleration
  - name: Immich hardware transcoding
    description: Transcoding modes nvenc, qsv, vaapi, rkmpp.
    link: https://docs.immich.app/features/hardware-transcoding
"""

EXAMPLES = r"""
- name: Detect the GPUs of this host
  homelab.immich.gpu_facts:

- name: Show the recommended ML image variant
  ansible.builtin.debug:
    msg: "immich-machine-learning:{{ immich_version }}{{ immich_gpu.recommendation.ml_image_suffix }}
      ({{ immich_gpu.recommendation.reason }})"

- name: Read a recorded tree (tests)
  homelab.immich.gpu_facts:
    root: /opt/gpu-fixture
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    immich_gpu:
      description: What the host has and what Immich should use.
      returned: always
      type: dict
      contains:
        gpus:
          description:
            - One entry per display-class PCI device (sorted by slot), then SoC GPUs and NPUs.
          returned: always
          type: list
          elements: dict
          sample:
            - vendor: nvidia
              vendor_id: "0x10de"
              device_id: "0x2684"
              pci_slot: "0000:01:00.0"
              model: NVIDIA GeForce RTX 4090
              vram_mb: 24564
              driver: nvidia
              driver_version: "550.54.14"
              compute_cap: "8.9"
              render_node: /dev/dri/renderD128
              card_node: /dev/dri/card0
              kind: discrete
              gfx: null
              cuda_index: 0
              usable: true
              ml_backend: cuda
              capacity: 108
              note: NVIDIA Ada Lovelace, compute capability 8.9, driver 550.54.14
          contains:
            vendor:
              description: C(nvidia), C(amd), C(intel), C(arm), C(rockchip) or C(other).
              type: str
            vendor_id:
              description: PCI vendor id, C(null) for SoC devices.
              type: str
            device_id:
              description: PCI device id, C(null) for SoC devices.
              type: str
            pci_slot:
              description: PCI address, C(null) for SoC devices.
              type: str
            model:
              description: Name from nvidia-smi, lspci, a built-in table, or the device tree.
              type: str
            vram_mb:
              description: Dedicated memory in MiB when known (nvidia-smi, amdgpu C(mem_info_vram_total)).
              type: int
            driver:
              description: Bound kernel driver, C(null) when none.
              type: str
            driver_version:
              description: NVIDIA driver version from nvidia-smi.
              type: str
            compute_cap:
              description: NVIDIA compute capability from nvidia-smi.
              type: str
            render_node:
              description: C(/dev/dri/renderD*) of the device.
              type: str
            card_node:
              description: C(/dev/dri/card*) of the device.
              type: str
            kind:
              description: C(discrete), C(integrated) or C(soc).
              type: str
            gfx:
              description: AMD gfx target from the KFD topology, e.g. C(gfx1100).
              type: str
            cuda_index:
              description: Index among the GPUs bound to the NVIDIA driver (the CDI index).
              type: int
            usable:
              description: Whether an Immich ML backend can use this device now.
              type: bool
            ml_backend:
              description: The backend this device would use, C(null) when unusable.
              type: str
            capacity:
              description: Relative throughput score of this device, 0 when unusable.
              type: int
            note:
              description: Why the device is or is not usable.
              type: str
        cpu:
          description: CPU and memory.
          returned: always
          type: dict
          sample: {arch: x86_64, cores: 8, memory_mb: 31872, x86_64_v2: true, x86_64_v2_missing: []}
          contains:
            arch:
              description: Machine architecture (C(x86_64), C(aarch64), ...).
              type: str
            cores:
              description: Logical CPUs.
              type: int
            memory_mb:
              description: MemTotal in MiB.
              type: int
            x86_64_v2:
              description:
                - Whether the CPU has the x86-64-v2 flags Immich v3 images need; C(null) on other architectures.
              type: bool
            x86_64_v2_missing:
              description: The x86-64-v2 flags the CPU lacks.
              type: list
              elements: str
        recommendation:
          description: What Immich should use on this host.
          returned: always
          type: dict
          contains:
            ml_backend:
              description: C(cuda), C(rocm), C(openvino), C(armnn), C(rknn) or C(cpu).
              type: str
            ml_image_suffix:
              description: Suffix of the immich-machine-learning image tag (C(-cuda) ... or empty for CPU).
              type: str
            reason:
              description: Why this backend (and, with several GPUs, why this one).
              type: str
            transcode_accel:
              description: Immich transcoding acceleration, C(nvenc), C(qsv), C(vaapi), C(rkmpp) or C(disabled).
              type: str
            transcode_devices:
              description: Host device paths the transcoding containers need.
              type: list
              elements: str
            transcode_cdi_devices:
              description: CDI names the transcoding containers need (NVENC).
              type: list
              elements: str
            devices:
              description: Host device paths to pass to the ML container.
              type: list
              elements: str
            cdi_devices:
              description: CDI device names for the ML container (C(podman --device nvidia.com/gpu=0)).
              type: list
              elements: str
            groups:
              description: Supplementary groups for the ML container.
              type: list
              elements: str
            environment:
              description: Environment for the ML container, e.g. C(HSA_OVERRIDE_GFX_VERSION).
              type: dict
            mounts:
              description: Host files the ML container needs (ARM NN's C(libmali.so) and firmware).
              type: list
              elements: str
            security_opt:
              description: Security options the ML container needs (RKNN).
              type: list
              elements: str
            driver_needed:
              description: Driver to install before the GPU is usable (C(nvidia), C(amdgpu)), else C(null).
              type: str
            secure_boot:
              description:
                - Whether UEFI Secure Boot is enabled (the C(SecureBoot) EFI variable under
                  C(/sys/firmware/efi/efivars)); C(null) on a BIOS boot.
              type: bool
            driver_blocked_by_secure_boot:
              description:
                - True when the NVIDIA driver is needed and Secure Boot is enabled - an unsigned DKMS module will not
                  load, a reboot does not help; the warnings name the fix (enroll the MOK key, or a signed driver).
              type: bool
            capacity:
              description:
                - Relative throughput score (>= 1) used to weight ML workers; CPU-only hosts get half their cores.
              type: int
            selected_gpu:
              description: Index into RV(ansible_facts.immich_gpu.gpus) of the GPU chosen, C(null) for CPU.
              type: int
            warnings:
              description: Problems found (also emitted as Ansible warnings).
              type: list
              elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.immich.plugins.module_utils.gpu import analyze, gather


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "nvidia_smi": {"type": "str", "default": "nvidia-smi"},
            "lspci": {"type": "str", "default": "lspci"},
        },
        supports_check_mode=True,
    )

    def run(name, args):
        path = module.get_bin_path(name, opt_dirs=["/usr/sbin", "/sbin", "/usr/bin"])
        if not path:
            return None
        rc, out, err = module.run_command([path, *args], environ_update={"LC_ALL": "C"})
        return {"rc": rc, "stdout": out, "stderr": err}

    start = time.time()
    snap = gather(module.params["root"], run, module.params["nvidia_smi"], module.params["lspci"])
    facts = analyze(snap)
    for warning in facts["recommendation"]["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts={"immich_gpu": facts}, elapsed_s=round(time.time() - start, 3))


if __name__ == "__main__":
    main()
