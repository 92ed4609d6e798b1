import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The SAE tests use tiny matrices: one thread avoids parallel-region overhead on a busy host."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
