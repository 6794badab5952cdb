"""The pipeline's Jupyter kernels talk over local IPC sockets instead of TCP.

ipykernel warns in every kernel it starts over TCP without CurveZMQ keys: "Kernel is running over TCP
without encryption ... Use IPC transport or launch with kernel manager-provisioned CurveZMQ keys"
(ipykernel ``kernelapp.py``, ``init_sockets``), and papermill's kernels printed it into every executed
notebook. The pipeline's kernels run on this machine, so they use the transport the warning names:
``transport="ipc"`` (jupyter_client's ``ConnectionFileMixin``), with the socket files in a private
folder of their own that is removed when the kernel shuts down. papermill hands the class to nbclient
(``execute_notebook(..., kernel_manager_class=IPCKernelManager)``, nbclient's ``kernel_manager_class``).
"""
from __future__ import annotations

import os
import shutil
import tempfile

from jupyter_client import AsyncKernelManager


class IPCKernelManager(AsyncKernelManager):
    """An nbclient kernel manager whose kernel listens on IPC sockets in a private temporary folder.

    Used in: no notebook; by :func:`helpers.pipeline.run` (every notebook it executes).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        # a short absolute path: a Unix socket's path is limited to ~107 bytes; 0700 like mkdtemp makes it
        self._ipc_dir = tempfile.mkdtemp(prefix="na-kernel-")
        self.ip = os.path.join(self._ipc_dir, "k")

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client interrupts every kernel before asking it to shut down (KernelManager.shutdown_kernel);
        # nbclient shuts a kernel down once its cells are done, where the SIGINT only made ipykernel log
        # "KeyboardInterrupt caught in kernel" to the pipeline's terminal. A kernel that does not exit within
        # finish_shutdown's wait is still killed; an interrupt at any other time (a cell's timeout) is sent.
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
