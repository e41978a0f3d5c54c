"""Runs a command where io_uring is blocked the way container runtimes block it: a seccomp
filter makes io_uring_setup(2) fail with EPERM (Docker's default profile does the same).
Usage: no_uring.py PROGRAM ARGS...  (execs PROGRAM, so its PID is the caller's child).
No root needed: PR_SET_NO_NEW_PRIVS allows an unprivileged process to install the filter."""
import ctypes
import os
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
# io_uring_setup is 425 on every architecture (the unified numbering since Linux 5.1).
NR_IO_URING_SETUP = 425
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06


class sock_filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class sock_fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(sock_filter))]


def block_io_uring():
    prog = [
        sock_filter(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        sock_filter(BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP),
        sock_filter(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        sock_filter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    arr = (sock_filter * len(prog))(*prog)
    fprog = sock_fprog(len(prog), arr)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    block_io_uring()
    os.execvp(sys.argv[1], sys.argv[1:])
