"""Run train.py with submitit's sbatch submission replaced by a capture of the job script.

Used by tests/test_scaleout.py to check what the SLURM launcher would submit, with no cluster:
the rendered script is written to $SKINSEG_SBATCH_CAPTURE and the submission then fails.
"""

import os
import runpy
import sys
from pathlib import Path

import submitit.slurm.slurm as slurm


def capture_submission(self, command):
    text = self._make_submission_file_text(command, "capture")
    Path(os.environ["SKINSEG_SBATCH_CAPTURE"]).write_text(text)
    raise RuntimeError("sbatch captured")


slurm.SlurmExecutor._submit_command = capture_submission
root = Path(__file__).resolve().parents[1]
os.chdir(root)
sys.argv = [str(root / "train.py"), *sys.argv[1:]]
runpy.run_path(str(root / "train.py"), run_name="__main__")
