"""What the fork server of a batch's workers loads before it forks them (:data:`.batch_worker.PRELOAD` names this
module; nothing else imports it): every worker then starts with it in memory instead of loading it again.

- the worker's own module, and with it the runner, the exporters, pandas and the rest (~1.5 s of CPU);
- jupyter_client's kernel manager and client (the worker's kernel: ~0.2 s);
- papermill, its I/O handlers and engines registered from the installed packages' entry points (~0.4 s);
- the HTML exporter of :func:`.runner.html_exporter`, nbconvert imported and the report template compiled (~0.8 s).

None of them starts a thread or opens a connection: a fork of the fork server is a sound process.
"""

from __future__ import annotations

import jupyter_client.blocking  # the worker kernel client (benchmark.reporting.kernel)
import jupyter_client.manager  # noqa: F401  (the worker's kernel manager)

from benchmark.reporting import batch_worker, runner  # noqa: F401  (batch_worker: what each worker runs)

runner.papermill_module()
runner.html_exporter()
