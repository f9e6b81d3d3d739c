r"""The dropout module of the NCN / NCNC layers: :class:`torch.nn.Dropout` with a cheaper CPU mask."""

from torch import Tensor
from torch.nn import Dropout as _TorchDropout

from graphkit.ops.dropout import packed_dropout


class Dropout(_TorchDropout):
    r""":class:`torch.nn.Dropout` computed by :func:`graphkit.ops.packed_dropout`: on CPU the mask costs about a
    seventh of :meth:`~torch.Tensor.bernoulli_` and is saved as booleans, and :math:`1 - p` is rounded
    to a multiple of :math:`2^{-16}` (the output is still unbiased); on other devices it is
    :func:`torch.nn.functional.dropout`. With torch's dropout the Bernoulli masks took 18 % (ogbl-ddi) to
    28 % (Cora) of an NCN training step on CPU (``benchmarks/RESULTS.md``, issue 14).

    Args:
        p (float, optional): The drop probability, in :math:`[0, 1]`. (default: :obj:`0.5`)
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def forward(self, input: Tensor) -> Tensor:
        return packed_dropout(input, self.p, self.training)
