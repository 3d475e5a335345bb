"""fake_nfs_client: a user-space stand-in for the kernel NFS client, run as mount.nfs.

Installed as /usr/local/lib/fake_nfs_client/fake_mount_nfs.py with a /usr/sbin/mount.nfs wrapper
(`exec python3 .../fake_mount_nfs.py "$@"`), see README.md.

The test kernel has no NFS client (no `nfs` in /proc/filesystems). systemd's mount unit
(Type=nfs, written by role nfs_client) runs `mount -t nfs SERVER:/PATH /MOUNTPOINT -o OPTIONS`,
and mount(8) hands that to the helper /sbin/mount.nfs. This helper speaks NFSv4 to the server
with libnfs (user space, through ctypes) and shows the export at MOUNTPOINT through FUSE
(python3-fusepy), so that every process of the host, containers included, reads and writes the
library through the real NFS server.

  mount.nfs SERVER:/EXPORT MOUNTPOINT [-o OPTIONS] [-s] [-r] [-v] [-w] [-n] [-f]

Like the real helper it refuses unknown mount options, needs `nfsvers`/`vers` 4.x and
`proto=tcp` when given, fails with exit code 32 when the server refuses the mount, and returns
only when the file system is mounted. It then leaves a daemon behind (in the mount unit's
cgroup, like sshfs) that serves the mount until it is unmounted.

Every request goes to the server with the caller's uid and gid (AUTH_SYS, as the kernel sends
them), so the server's export rules (root squash, anonymous uid/gid, permissions) decide, not
this client. Not like the kernel: no supplementary groups are sent, libnfs speaks NFSv4.0 even
when 4.1/4.2 is asked, and requests are served one at a time.
"""

import ctypes
import ctypes.util
import errno
import os
import stat
import sys
import time

EXIT_USAGE = 1
EXIT_FAILURE = 32  # mount(8): mount failure
NFS_V4 = 4

# options of nfs(5) and mount(8) that the helper accepts; their values are not checked beyond vers/proto
KNOWN_OPTIONS = {
    "hard",
    "soft",
    "softerr",
    "intr",
    "nointr",
    "_netdev",
    "nofail",
    "auto",
    "noauto",
    "defaults",
    "rw",
    "ro",
    "sync",
    "async",
    "atime",
    "noatime",
    "relatime",
    "diratime",
    "nodiratime",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "user",
    "nouser",
    "users",
    "ac",
    "noac",
    "cto",
    "nocto",
    "lock",
    "nolock",
    "fsc",
    "nofsc",
    "sharecache",
    "nosharecache",
    "resvport",
    "noresvport",
    "bg",
    "fg",
    "rdirplus",
    "nordirplus",
    "nfsvers",
    "vers",
    "minorversion",
    "proto",
    "port",
    "timeo",
    "retrans",
    "rsize",
    "wsize",
    "acregmin",
    "acregmax",
    "acdirmin",
    "acdirmax",
    "actimeo",
    "lookupcache",
    "local_lock",
    "sec",
    "clientaddr",
    "nconnect",
    "max_connect",
    "namlen",
    "retry",
    "mountport",
    "mountproto",
    "mountvers",
    "mounthost",
    "addr",
    "context",
}


def parse_options(text):
    """Options of -o as a dict; refuses unknown ones and what this client cannot speak."""
    opts = {}
    for item in filter(None, (text or "").split(",")):
        name, equals, value = item.partition("=")
        if name not in KNOWN_OPTIONS and not name.startswith("x-"):
            raise ValueError(f"an incorrect mount option was specified: {item}")
        opts[name] = value if equals else True
    version = str(opts.get("nfsvers", opts.get("vers", "4")))
    if version.split(".", maxsplit=1)[0] != "4":
        raise ValueError(f"nfsvers={version}: this test double speaks NFSv4 only")
    if opts.get("proto", "tcp") != "tcp":
        raise ValueError(f"proto={opts['proto']}: this test double speaks TCP only")
    return opts


def parse_args(argv):
    """mount.nfs SPEC DIR [-o OPTS] [-s -r -v -w -n -f]: (server, export, mountpoint, options)."""
    positional, opts_text, read_only = [], "", False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "-o":
            if not args:
                raise ValueError("-o needs a value")
            opts_text = ",".join(filter(None, [opts_text, args.pop(0)]))
        elif arg.startswith("-o") and len(arg) > 2:
            opts_text = ",".join(filter(None, [opts_text, arg[2:]]))
        elif arg == "-t":
            if not args:
                raise ValueError("-t needs a value")
            args.pop(0)
        elif arg == "-r":
            read_only = True
        elif arg in ("-s", "-v", "-w", "-n", "-f", "-i"):
            pass
        elif arg.startswith("-"):
            raise ValueError(f"unknown flag {arg}")
        else:
            positional.append(arg)
    if len(positional) != 2:
        raise ValueError("usage: mount.nfs SERVER:/EXPORT MOUNTPOINT [-o OPTIONS]")
    spec, mountpoint = positional
    if spec.startswith("["):  # [IPv6]:/path
        host, _sep, rest = spec[1:].partition("]")
        export = rest[1:] if rest.startswith(":") else ""
    else:
        host, _sep, export = spec.partition(":")
    if not host or not export.startswith("/"):
        raise ValueError(f"{spec}: expected SERVER:/EXPORT")
    options = parse_options(opts_text)
    if read_only:
        options["ro"] = True
    return host, export, os.path.abspath(mountpoint), options


# ------------------------------------------------------------------ libnfs through ctypes
class NfsStat64(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "dev",
            "ino",
            "mode",
            "nlink",
            "uid",
            "gid",
            "rdev",
            "size",
            "blksize",
            "blocks",
            "atime",
            "mtime",
            "ctime",
            "atime_nsec",
            "mtime_nsec",
            "ctime_nsec",
            "used",
        )
    ]


class NfsStatvfs64(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "f_bsize",
            "f_frsize",
            "f_blocks",
            "f_bfree",
            "f_bavail",
            "f_files",
            "f_ffree",
            "f_favail",
            "f_fsid",
            "f_flag",
            "f_namemax",
        )
    ]


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class NfsDirent(ctypes.Structure):
    pass


NfsDirent._fields_ = [
    ("next", ctypes.POINTER(NfsDirent)),
    ("name", ctypes.c_char_p),
    ("inode", ctypes.c_uint64),
]

P = ctypes.c_void_p
SIGNATURES = {
    "nfs_init_context": (P, []),
    "nfs_destroy_context": (None, [P]),
    "nfs_get_error": (ctypes.c_char_p, [P]),
    "nfs_set_version": (ctypes.c_int, [P, ctypes.c_int]),
    "nfs_set_uid": (None, [P, ctypes.c_int]),
    "nfs_set_gid": (None, [P, ctypes.c_int]),
    "nfs_set_dircache": (None, [P, ctypes.c_int]),
    "nfs_set_autoreconnect": (None, [P, ctypes.c_int]),
    "nfs_mount": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_umount": (ctypes.c_int, [P]),
    "nfs_lstat64": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(NfsStat64)]),
    "nfs_fstat64": (ctypes.c_int, [P, P, ctypes.POINTER(NfsStat64)]),
    "nfs_open2": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(P)]),
    "nfs_create": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(P)]),
    "nfs_close": (ctypes.c_int, [P, P]),
    "nfs_pread": (ctypes.c_int, [P, P, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p]),
    "nfs_pwrite": (ctypes.c_int, [P, P, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p]),
    "nfs_fsync": (ctypes.c_int, [P, P]),
    "nfs_truncate": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_uint64]),
    "nfs_ftruncate": (ctypes.c_int, [P, P, ctypes.c_uint64]),
    "nfs_mkdir2": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    "nfs_rmdir": (ctypes.c_int, [P, ctypes.c_char_p]),
    "nfs_unlink": (ctypes.c_int, [P, ctypes.c_char_p]),
    "nfs_rename": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_link": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_symlink": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_readlink": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]),
    "nfs_chmod": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    "nfs_lchown": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]),
    "nfs_lutimes": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(Timeval)]),
    "nfs_access": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    "nfs_statvfs64": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(NfsStatvfs64)]),
    "nfs_opendir": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
    "nfs_readdir": (ctypes.POINTER(NfsDirent), [P, P]),
    "nfs_closedir": (None, [P, P]),
}


def load_libnfs():
    name = ctypes.util.find_library("nfs") or "libnfs.so.14"
    lib = ctypes.CDLL(name, use_errno=True)
    for func, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(lib, func)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


class Nfs:
    """One NFSv4 connection (libnfs sync API): errors come back as OSError(errno)."""

    def __init__(self, lib, server, export):
        self.lib = lib
        self.ctx = lib.nfs_init_context()
        if not self.ctx:
            raise OSError(errno.ENOMEM, "nfs_init_context failed")
        lib.nfs_set_version(self.ctx, NFS_V4)
        lib.nfs_set_dircache(self.ctx, 0)  # the server changes the library too: no stale listings
        lib.nfs_set_autoreconnect(self.ctx, -1)  # hard: wait for the server, never fail I/O
        self.uid = self.gid = None
        self.as_user(0, 0)
        ret = lib.nfs_mount(self.ctx, server.encode(), export.encode())
        if ret < 0:
            raise OSError(-ret, self.error())

    def error(self):
        msg = self.lib.nfs_get_error(self.ctx)
        return msg.decode(errors="replace") if msg else ""

    def as_user(self, uid, gid):
        if (uid, gid) != (self.uid, self.gid):
            self.lib.nfs_set_uid(self.ctx, uid)
            self.lib.nfs_set_gid(self.ctx, gid)
            self.uid, self.gid = uid, gid

    def call(self, func, *args):
        ret = getattr(self.lib, func)(self.ctx, *args)
        if isinstance(ret, int) and ret < 0:
            raise OSError(-ret, f"{func}: {self.error()}")
        return ret


# ------------------------------------------------------------------ the FUSE file system
def make_operations(fuse):
    class NfsOperations(fuse.Operations):
        """Path-based FUSE operations, each one NFS call with the caller's uid/gid."""

        def __init__(self, nfs):
            self.nfs = nfs
            self.handles = {}
            self.next_handle = 1

        def __call__(self, op, *args):
            uid, gid, _pid = fuse.fuse_get_context()
            self.nfs.as_user(uid, gid)
            if not hasattr(self, op):
                raise fuse.FuseOSError(errno.ENOSYS)
            try:
                return getattr(self, op)(*args)
            except OSError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None

        @staticmethod
        def _p(path):
            return path.encode()

        def _handle(self, fh_ptr):
            handle = self.next_handle
            self.next_handle += 1
            self.handles[handle] = fh_ptr
            return handle

        @staticmethod
        def _attrs(st):
            return {
                "st_mode": st.mode,
                "st_ino": st.ino,
                "st_nlink": st.nlink,
                "st_uid": st.uid,
                "st_gid": st.gid,
                "st_rdev": st.rdev,
                "st_size": st.size,
                # stat(2) counts 512-byte blocks, as the kernel client does from space_used; libnfs' blocks
                # are 4096-byte ones, which made every file look sparse (du, cp --sparse=auto)
                "st_blocks": (st.used + 511) // 512,
                "st_blksize": st.blksize or 4096,
                "st_atime": st.atime + st.atime_nsec / 1e9,
                "st_mtime": st.mtime + st.mtime_nsec / 1e9,
                "st_ctime": st.ctime + st.ctime_nsec / 1e9,
            }

        def getattr(self, path, fh=None):
            st = NfsStat64()
            if fh in self.handles:
                self.nfs.call("nfs_fstat64", self.handles[fh], ctypes.byref(st))
            else:
                self.nfs.call("nfs_lstat64", self._p(path), ctypes.byref(st))
            return self._attrs(st)

        def access(self, path, amode):
            self.nfs.call("nfs_access", self._p(path), amode)
            return 0

        def readdir(self, path, fh):
            handle = P()
            self.nfs.call("nfs_opendir", self._p(path), ctypes.byref(handle))
            names = [".", ".."]
            try:
                while True:
                    entry = self.nfs.lib.nfs_readdir(self.nfs.ctx, handle)
                    if not entry:
                        break
                    name = entry.contents.name.decode(errors="surrogateescape")
                    if name not in (".", ".."):
                        names.append(name)
            finally:
                self.nfs.lib.nfs_closedir(self.nfs.ctx, handle)
            return names

        def mkdir(self, path, mode):
            self.nfs.call("nfs_mkdir2", self._p(path), mode & 0o7777)

        def rmdir(self, path):
            self.nfs.call("nfs_rmdir", self._p(path))

        def unlink(self, path):
            self.nfs.call("nfs_unlink", self._p(path))

        def rename(self, old, new):
            self.nfs.call("nfs_rename", self._p(old), self._p(new))

        def link(self, target, source):
            self.nfs.call("nfs_link", self._p(source), self._p(target))

        def symlink(self, target, source):
            self.nfs.call("nfs_symlink", self._p(source), self._p(target))

        def readlink(self, path):
            buf = ctypes.create_string_buffer(4097)
            self.nfs.call("nfs_readlink", self._p(path), buf, 4096)
            return buf.value.decode(errors="surrogateescape")

        def chmod(self, path, mode):
            self.nfs.call("nfs_chmod", self._p(path), mode & 0o7777)

        def chown(self, path, uid, gid):
            self.nfs.call("nfs_lchown", self._p(path), uid, gid)

        def utimens(self, path, times=None):
            now = time.time()
            atime, mtime = times or (now, now)
            tv = (Timeval * 2)(Timeval(int(atime), int((atime % 1) * 1e6)), Timeval(int(mtime), int((mtime % 1) * 1e6)))
            self.nfs.call("nfs_lutimes", self._p(path), tv)

        def statfs(self, path):
            sv = NfsStatvfs64()
            self.nfs.call("nfs_statvfs64", self._p(path), ctypes.byref(sv))
            skip = ("f_fsid", "f_flag")
            return {name: getattr(sv, name) for name, _ctype in NfsStatvfs64._fields_ if name not in skip}

        def create(self, path, mode, fi=None):
            ptr = P()
            self.nfs.call("nfs_create", self._p(path), os.O_RDWR | os.O_CREAT, mode & 0o7777, ctypes.byref(ptr))
            handle = self._handle(ptr)
            # libnfs' NFSv4 create leaves the file 0600 whatever the mode: set it as the kernel client would
            self.nfs.call("nfs_chmod", self._p(path), mode & 0o7777)
            return handle

        def open(self, path, flags):
            ptr = P()
            keep = os.O_ACCMODE | getattr(os, "O_SYNC", 0)  # the kernel handles O_TRUNC, O_APPEND, O_CREAT
            self.nfs.call("nfs_open2", self._p(path), flags & keep, 0, ctypes.byref(ptr))
            return self._handle(ptr)

        def read(self, path, size, offset, fh):
            out = b""
            while len(out) < size:  # a server may answer with less than asked (its rsize)
                want = size - len(out)
                buf = ctypes.create_string_buffer(want)
                count = self.nfs.call("nfs_pread", self.handles[fh], offset + len(out), want, buf)
                if count <= 0:
                    break
                out += buf.raw[:count]
            return out

        def write(self, path, data, offset, fh):
            done = 0
            while done < len(data):
                chunk = data[done:]
                count = self.nfs.call("nfs_pwrite", self.handles[fh], offset + done, len(chunk), chunk)
                if count <= 0:
                    raise OSError(errno.EIO, "short write")
                done += count
            return done

        def truncate(self, path, length, fh=None):
            if fh in self.handles:
                self.nfs.call("nfs_ftruncate", self.handles[fh], length)
            else:
                self.nfs.call("nfs_truncate", self._p(path), length)

        def flush(self, path, fh):
            return 0

        def fsync(self, path, datasync, fh):
            self.nfs.call("nfs_fsync", self.handles[fh])

        def release(self, path, fh):
            ptr = self.handles.pop(fh, None)
            if ptr is not None:
                self.nfs.call("nfs_close", ptr)

        def opendir(self, path):
            return 0

        def releasedir(self, path, fh):
            return 0

        def fsyncdir(self, path, datasync, fh):
            return 0

    return NfsOperations


# ------------------------------------------------------------------ mount.nfs
def is_mounted(mountpoint):
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        return any(line.split()[4] == mountpoint for line in fh)


def serve(host, export, mountpoint, options, ready_fd):
    """Child: connect, report on ready_fd, then serve FUSE in the foreground until unmounted."""
    try:
        import fusepy as fuse  # python3-fusepy (Debian names the module fusepy)

        nfs = Nfs(load_libnfs(), host, export)
    except OSError as err:
        reason = "access denied by server" if err.errno in (errno.EACCES, errno.EPERM) else err.strerror
        os.write(ready_fd, f"ERR mounting {host}:{export} failed, reason given by server: {reason} ({err})".encode())
        os._exit(EXIT_FAILURE)
    except Exception as err:  # any failure must reach the parent
        os.write(ready_fd, f"ERR {type(err).__name__}: {err}".encode())
        os._exit(EXIT_FAILURE)
    os.write(ready_fd, b"OK")
    os.close(ready_fd)
    fuse.FUSE(
        make_operations(fuse)(nfs),
        mountpoint,
        foreground=True,
        nothreads=True,
        allow_other=True,
        use_ino=True,
        big_writes=True,
        ro=bool(options.get("ro")),
        fsname=f"{host}:{export}",
        subtype="nfs",
        attr_timeout=1,
        entry_timeout=1,
        negative_timeout=0,
    )
    os._exit(0)


def main(argv):
    try:
        host, export, mountpoint, options = parse_args(argv)
    except ValueError as err:
        print(f"mount.nfs: {err}", file=sys.stderr)
        return EXIT_USAGE
    if not os.path.isdir(mountpoint):
        print(f"mount.nfs: mount point {mountpoint} does not exist", file=sys.stderr)
        return EXIT_FAILURE
    if is_mounted(mountpoint):
        print(f"mount.nfs: {mountpoint} is busy or already mounted", file=sys.stderr)
        return EXIT_FAILURE
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        serve(host, export, mountpoint, options, write_fd)
    os.close(write_fd)
    answer = b""
    while chunk := os.read(read_fd, 4096):
        answer += chunk
        if answer == b"OK" or answer.startswith(b"ERR"):
            break
    if not answer.startswith(b"OK"):
        print(f"mount.nfs: {answer[4:].decode(errors='replace') or 'the client died'}", file=sys.stderr)
        return EXIT_FAILURE
    deadline = time.monotonic() + 30
    while not is_mounted(mountpoint):
        if time.monotonic() > deadline or os.waitpid(pid, os.WNOHANG) != (0, 0):
            print(f"mount.nfs: FUSE did not mount {mountpoint}", file=sys.stderr)
            return EXIT_FAILURE
        time.sleep(0.1)
    if stat.S_ISDIR(os.stat(mountpoint).st_mode):
        return 0
    return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
