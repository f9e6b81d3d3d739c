r"""The NCN / NCNC link predictors of the `"Neural Common Neighbor with Completion for Link Prediction"
<https://arxiv.org/abs/2302.00890>`_ paper and its ablations, in the module order of the official code
(GraphPKU/NeuralCommonNeighbor, main @ 11d5970)."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Identity, LayerNorm, Linear, Module, Parameter, ReLU, Sequential

from graphkit import ops
from graphkit.nn._checks import check_choice, check_probabilities
from graphkit.nn.dropout import Dropout
from graphkit.nn.encoder import DropAdj

VARIANTS = ('cn0', 'scn1', 'cn1', 'cn1.5', 'cn1res')


def _ln(channels: int, on: bool) -> Module:
    return LayerNorm(channels) if on else Identity()


class NCNPredictor(Module):
    r"""The Neural Common Neighbor (NCN) link predictor from the `"Neural Common Neighbor with
    Completion for Link Prediction" <https://arxiv.org/abs/2302.00890>`_ paper.

    .. math::
        s_{ij} = \mathrm{lin}\Big(\beta \cdot f_{cn}\big(\sum_{u \in \mathcal{N}(i) \cap
        \mathcal{N}(j)} \mathbf{h}'_u\big) + f_{ij}(\mathbf{h}_i \odot \mathbf{h}_j)\Big),
        \qquad \mathbf{h}' = \mathbf{h} + \mathrm{xlin}(\mathbf{h}) \text{ if use\_xlin}

    with the module order of the official code:
    :obj:`xlin = Lin-Drop-ReLU-Lin-LN-Drop-ReLU`, :obj:`f_ij = Lin-LN-Drop-ReLU[-Lin]`,
    :obj:`f_cn = Lin-Drop-ReLU-Lin-LN-Drop-ReLU[-Lin]` (the bracketed :obj:`Lin` is dropped with
    :obj:`tailact`), :obj:`lin = Lin-LN-Drop-ReLU[-Lin-LN-Drop-ReLU if twolayerlin]-Lin(F, 1)`.
    The sum over a linear map of a concatenation equals the paper's
    :math:`\mathrm{MLP}(\cdot \| \cdot)`.

    The ablations of the paper are selected by :obj:`variant`: :obj:`'cn0'` (GAE, no CN branch),
    :obj:`'scn1'` (CN *count* through :math:`f_{cn}`), :obj:`'cn1'` (NCN), :obj:`'cn1.5'` (NCN2:
    adds :math:`\sum_{u \in \mathcal{N}(i) \cap \mathcal{N}_2(j)} \mathbf{h}'_u + \sum_{u \in
    \mathcal{N}_2(i) \cap \mathcal{N}(j)} \mathbf{h}'_u` through a separate MLP,
    :math:`\mathcal{N}_2` the support of :math:`\mathbf{A}^2`, see :func:`graphkit.ops.two_hop_stack`)
    and :obj:`'cn1res'` (NCN-diff: adds the non-common neighbours
    :math:`\mathcal{N}(i) \triangle \mathcal{N}(j)` through a separate MLP).

    .. note::
        :obj:`adj` must be the adjacency the encoder saw (target-link-removed in training). In
        training mode, :obj:`edge_dropout` drops adjacency entries before the common-neighbour sets
        are computed; its values are ignored (the CN indicator is binary).

    Args:
        in_channels (int): Size of each node representation.
        hidden_channels (int): Width of the MLPs.
        variant (str, optional): :obj:`'cn0'`, :obj:`'scn1'`, :obj:`'cn1'`, :obj:`'cn1.5'` or
            :obj:`'cn1res'`. (default: :obj:`'cn1'`)
        dropout (float, optional): Dropout probability in all MLPs (official :obj:`--predp`).
            (default: :obj:`0.0`)
        edge_dropout (float, optional): Probability to drop each adjacency entry before the
            common-neighbour sets are computed, training only (official :obj:`--preedp`).
            (default: :obj:`0.0`)
        use_xlin (bool, optional): Pools :math:`\mathbf{h} + \mathrm{xlin}(\mathbf{h})` instead of
            :math:`\mathbf{h}` over the common neighbours (official :obj:`--use_xlin`).
            (default: :obj:`False`)
        tailact (bool, optional): Ends the :math:`f_{ij}` and :math:`f_{cn}` branches with a ReLU
            instead of a :obj:`Linear` (official :obj:`--tailact`). (default: :obj:`False`)
        twolayerlin (bool, optional): Two hidden layers instead of one in the output MLP
            :obj:`lin` (official :obj:`--twolayerlin`). (default: :obj:`False`)
        layer_norm (bool, optional): Puts the LayerNorms (:obj:`LN` above) into the MLPs (official
            :obj:`--lnnn`). (default: :obj:`False`)
        beta (float, optional): Initial value of the learnable gain :math:`\beta` of the CN branch
            (official :obj:`--beta`). (default: :obj:`1.0`)

    Shapes:
        - **input:** node representations :math:`(|\mathcal{V}|, F)`, sparse CSR adjacency
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`, pairs :math:`(2, B)`
        - **output:** logits :math:`(B,)`
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        variant: str = 'cn1',
        dropout: float = 0.0,
        edge_dropout: float = 0.0,
        use_xlin: bool = False,
        tailact: bool = False,
        twolayerlin: bool = False,
        layer_norm: bool = False,
        beta: float = 1.0,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'variant', variant, VARIANTS)
        check_probabilities(name, dropout=dropout, edge_dropout=edge_dropout)
        if in_channels <= 0 or hidden_channels <= 0:
            raise ValueError(
                f"'{name}' expects positive 'in_channels' and 'hidden_channels' "
                f'(got {in_channels} and {hidden_channels})'
            )
        self.in_channels, self.hidden_channels, self.variant = in_channels, hidden_channels, variant
        self.dropout, self.edge_dropout, self.layer_norm = dropout, edge_dropout, layer_norm
        self.use_xlin, self.tailact, self.twolayerlin = use_xlin, tailact, twolayerlin

        F, H, p, ln = in_channels, hidden_channels, dropout, layer_norm
        self.drop_adj = DropAdj(edge_dropout)
        self.xlin = (
            Sequential(Linear(F, F), Dropout(p), ReLU(), Linear(F, F), _ln(F, ln), Dropout(p), ReLU())
            if use_xlin
            else None
        )
        self.xijlin = Sequential(Linear(F, H), _ln(H, ln), Dropout(p), ReLU(), Identity() if tailact else Linear(H, H))
        self.xcnlin = self._cn_mlp(1 if variant == 'scn1' else F) if variant != 'cn0' else None
        self.xcn2lin = self._cn_mlp(F) if variant in ('cn1.5', 'cn1res') else None
        lin: List[Module] = [Linear(H, H), _ln(H, ln), Dropout(p), ReLU()]
        if twolayerlin:
            lin += [Linear(H, H), _ln(H, ln), Dropout(p), ReLU()]
        self.lin = Sequential(*lin, Linear(H, 1))
        self.beta_init = float(beta)
        self.beta = Parameter(torch.empty(1))
        self._transformed: List[Tuple[Tensor, Tuple[int, ...], Tensor]] = []  # eval-mode xlin cache

        self.reset_parameters()

    def _cn_mlp(self, fin: int) -> Sequential:
        H, p, ln = self.hidden_channels, self.dropout, self.layer_norm
        return Sequential(
            Linear(fin, H),
            Dropout(p),
            ReLU(),
            Linear(H, H),
            _ln(H, ln),
            Dropout(p),
            ReLU(),
            Identity() if self.tailact else Linear(H, H),
        )

    def reset_parameters(self) -> None:
        """Resets all learnable parameters of the module."""
        for mlp in (self.xlin, self.xijlin, self.xcnlin, self.xcn2lin, self.lin):
            if mlp is None:
                continue
            for module in mlp:
                if hasattr(module, 'reset_parameters'):
                    module.reset_parameters()
        with torch.no_grad():
            self.beta.fill_(self.beta_init)
        self._transformed = []

    def train(self, mode: bool = True) -> 'NCNPredictor':
        self._transformed = []
        return super().train(mode)

    def _transform(self, h: Tensor) -> Tensor:
        r""":math:`\mathbf{h} + \mathrm{xlin}(\mathbf{h})` over all nodes. Evaluation scores many chunks of pairs
        on the same :math:`\mathbf{h}`: without autograd the result is kept for the next call and reused while
        :obj:`h` and the weights of :obj:`xlin` are unchanged (same tensor, same versions). Two entries: NCNC's
        completion transforms :math:`\mathbf{h}'` as well."""
        if self.xlin is None:
            return h
        if self.training or torch.is_grad_enabled():
            return h + self.xlin(h)
        key = (h._version, *(p._version for p in self.xlin.parameters()))
        for entry in self._transformed:
            if entry[0] is h and entry[1] == key:
                return entry[2]
        out = h + self.xlin(h)
        self._transformed = [(h, key, out), *self._transformed[:1]]
        return out

    def _add_branch(self, out: Tensor, mlp: Module, z: Tensor, gain: Optional[Tensor] = None) -> Tensor:
        """:obj:`out + gain * mlp(z)`. In evaluation :obj:`mlp` runs only on the rows of :obj:`z` that are not all
        zero (pairs with common neighbours); the others share :obj:`mlp(0)`, computed once. Most pairs of a
        full ranking on a sparse graph have no common neighbour, so this skips most of the branch."""
        rows = None if self.training else z.ne(0).any(dim=1).nonzero().view(-1)
        if rows is None or rows.numel() == z.size(0):
            val = mlp(z)
            return out + (val if gain is None else gain * val)
        zero = mlp(z.new_zeros(1, z.size(1)))
        if gain is not None:
            zero = gain * zero
        fixed = None
        if rows.numel():
            val = mlp(z.index_select(0, rows))
            fixed = out.index_select(0, rows) + (val if gain is None else gain * val)
        if torch.is_grad_enabled():  # out-of-place, for autograd
            out = out + zero
            return out if fixed is None else out.index_copy(0, rows, fixed)
        out.add_(zero)
        return out if fixed is None else out.index_copy_(0, rows, fixed)

    def _head(self, xi: Tensor, xj: Tensor, z: Optional[Tensor], z2: Optional[Tensor] = None) -> Tensor:
        out = self.xijlin(xi * xj)
        if z is not None:
            out = self._add_branch(out, self.xcnlin, z, self.beta)
        if z2 is not None:
            out = self._add_branch(out, self.xcn2lin, z2)
        return self.lin(out).view(-1)

    def forward(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        """Returns one logit per column of :obj:`pairs`."""
        B = pairs.size(1)
        xi, xj = h[pairs[0]], h[pairs[1]]
        if self.variant == 'cn0':
            return self._head(xi, xj, None)
        adj = self.drop_adj(adj)
        if self.variant == 'scn1':
            return self._head(xi, xj, ops.cn_count(adj, pairs).view(-1, 1).to(h.dtype))
        hp = self._transform(h)
        if self.variant == 'cn1':
            return self._head(xi, xj, ops.cn_sum(adj, pairs, hp))
        if self.variant == 'cn1res':
            cn = ops.common_neighbors(adj, pairs, differences=True)
            z = ops.pool_pairs(cn.cn, hp, B)
            z2 = ops.pool_pairs(cn.only_i, hp, B) + ops.pool_pairs(cn.only_j, hp, B)
            return self._head(xi, xj, z, z2)
        # 'cn1.5'
        n = adj.size(0)
        stack = ops.two_hop_stack(adj)
        z = ops.cn_sum(adj, pairs, hp)
        c12 = ops.common_neighbors(stack, torch.stack([pairs[0], pairs[1] + n])).cn
        c21 = ops.common_neighbors(stack, torch.stack([pairs[0] + n, pairs[1]])).cn
        z2 = ops.pool_pairs(c12, hp, B) + ops.pool_pairs(c21, hp, B)
        return self._head(xi, xj, z, z2)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, variant='{self.variant}')"


class NCNCPredictor(NCNPredictor):
    r"""The NCN-with-Completion (NCNC) link predictor from the `"Neural Common Neighbor with
    Completion for Link Prediction" <https://arxiv.org/abs/2302.00890>`_ paper.

    Common neighbours are completed softly by the predictor itself at depth :math:`d - 1`:

    .. math::
        s_{ij} = \mathrm{lin}\Big(\beta \cdot f_{cn}\big(\sum_u P_{uij}\, \mathbf{h}'_u\big)
        + f_{ij}(\mathbf{h}_i \odot \mathbf{h}_j)\Big), \quad
        P_{uij} = \begin{cases} 1 & u \in \mathcal{N}(i) \cap \mathcal{N}(j) \\
        \hat{A}_{ju} & u \in \mathcal{N}(i) \setminus \mathcal{N}(j) \\
        \hat{A}_{iu} & u \in \mathcal{N}(j) \setminus \mathcal{N}(i) \\ 0 & \text{otherwise}
        \end{cases}

    where :math:`\hat{A}_{ab} = \alpha\, \frac{p_t p_0}{p_t p_0 + 1 - p_0}`,
    :math:`p_0 = \sigma(\mathrm{scale}\cdot(s^{(d-1)}_{ab} - \mathrm{offset}))` and
    :math:`s^{(d-1)}` is this module's own logit at depth :math:`d - 1` (depth 0 is NCN), computed
    under :func:`torch.no_grad` with the current weights and the current train/eval mode (dropout
    and edge dropout stay active in training), as the official code does.

    .. note::
        A quirk of the official code: the completion call receives :math:`\mathbf{h}'` (after
        :obj:`xlin`) and applies :obj:`xlin` again, so the completion scores pool
        :math:`\mathbf{h}' + \mathrm{xlin}(\mathbf{h}')`. :obj:`nested_xlin=True` (default)
        reproduces it; :obj:`False` passes :math:`\mathbf{h}` instead (needs re-tuning). The inner
        call also draws its own edge dropout on the already-dropped adjacency, as officially.

    .. note::
        :obj:`train_max_candidates` / :obj:`test_max_candidates` keep at most :math:`k` candidates
        per pair and per side, sampled with replacement and weighted by rowcount / k (unbiased).
        :obj:`split_size` scores the completion pairs in chunks of that many pairs to bound memory;
        results are unchanged.

    Args:
        in_channels (int): Size of each node representation.
        hidden_channels (int): Width of the MLPs.
        depth (int, optional): Completion depth, :obj:`1` (NCNC) or :obj:`2` (NCNC2); :obj:`0`
            disables completion. (default: :obj:`1`)
        scale (float, optional): Slope of the calibration
            :math:`p_0 = \sigma(\mathrm{scale} \cdot (s - \mathrm{offset}))` of the completion
            logits (official :obj:`--probscale`). (default: :obj:`5.0`)
        offset (float, optional): Shift of that calibration (official :obj:`--proboffset`).
            (default: :obj:`3.0`)
        pt (float, optional): Odds re-weighting :math:`p_t` of the calibrated probability, in
            :math:`(0, 1)` (official :obj:`--pt`). (default: :obj:`0.5`)
        alpha (float, optional): Gain :math:`\alpha` on the completion probability (official
            :obj:`--alpha`). (default: :obj:`1.0`)
        train_max_candidates (int, optional): In training, samples at most this many completion
            candidates per pair and side (official :obj:`--trndeg`); :obj:`None` keeps all.
            (default: :obj:`None`)
        test_max_candidates (int, optional): The same at evaluation (official :obj:`--tstdeg`).
            (default: :obj:`None`)
        split_size (int, optional): Scores the completion pairs in chunks of this many, to bound
            memory (official :obj:`--splitsize`); :obj:`None` scores them at once.
            (default: :obj:`None`)
        nested_xlin (bool, optional): Reproduces the official double :obj:`xlin` of the completion
            call (see above). (default: :obj:`True`)
        **kwargs (optional): The remaining arguments of :class:`NCNPredictor` (:obj:`variant` is
            fixed to :obj:`'cn1'`).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        depth: int = 1,
        scale: float = 5.0,
        offset: float = 3.0,
        pt: float = 0.5,
        alpha: float = 1.0,
        train_max_candidates: Optional[int] = None,
        test_max_candidates: Optional[int] = None,
        split_size: Optional[int] = None,
        nested_xlin: bool = True,
        **kwargs,
    ) -> None:
        name = self.__class__.__name__
        if kwargs.pop('variant', 'cn1') != 'cn1':
            raise ValueError(f"'{name}' only supports 'variant' 'cn1'")
        if depth < 0:
            raise ValueError(f"'{name}' expects 'depth' >= 0 (got {depth})")
        if not 0.0 < pt < 1.0:
            raise ValueError(f"'{name}' expects 'pt' in (0, 1) (got {pt})")
        for key, k in (
            ('train_max_candidates', train_max_candidates),
            ('test_max_candidates', test_max_candidates),
            ('split_size', split_size),
        ):
            if k is not None and k <= 0:
                raise ValueError(f"'{name}' expects '{key}' to be None or positive (got {k})")
        super().__init__(in_channels, hidden_channels, variant='cn1', **kwargs)
        self.depth = depth
        self.train_max_candidates = train_max_candidates
        self.test_max_candidates = test_max_candidates
        self.split_size = split_size
        self.nested_xlin = nested_xlin
        self.register_buffer('scale', torch.tensor(float(scale)))
        self.register_buffer('offset', torch.tensor(float(offset)))
        self.register_buffer('pt', torch.tensor(float(pt)))
        self.register_buffer('alpha', torch.tensor(float(alpha)))

    def calibrate(self, logit: Tensor) -> Tensor:
        r"""Maps completion logits to edge probabilities
        :math:`\alpha\, p_t p_0 / (p_t p_0 + 1 - p_0)`, :math:`p_0 = \sigma(\mathrm{scale}
        (s - \mathrm{offset}))`."""
        p0 = torch.sigmoid(self.scale * (logit - self.offset))
        return self.alpha * (self.pt * p0) / (self.pt * p0 + 1.0 - p0)

    def completion_sets(self, adj: Tensor, pairs: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Returns the CN list and the two candidate lists with their sampling weights."""
        B = pairs.size(1)
        cn = ops.common_neighbors(adj, pairs, differences=True)
        k = self.train_max_candidates if self.training else self.test_max_candidates
        r1, r2 = cn.only_i, cn.only_j
        if k is not None:
            r1, w1 = ops.sample_per_row(r1, k, B)
            r2, w2 = ops.sample_per_row(r2, k, B)
        else:
            w1 = torch.ones(r1.size(1), device=r1.device)
            w2 = torch.ones(r2.size(1), device=r2.device)
        return cn.cn, r1, w1, r2, w2

    def _complete(self, h: Tensor, adj: Tensor, pairs: Tensor, depth: int) -> Tensor:
        if self.split_size is None or pairs.size(1) <= self.split_size:
            return self._score(h, adj, pairs, depth)
        return torch.cat([self._score(h, adj, chunk, depth) for chunk in pairs.split(self.split_size, dim=1)])

    def _score(self, h: Tensor, adj: Tensor, pairs: Tensor, depth: int) -> Tensor:
        B = pairs.size(1)
        adj = self.drop_adj(adj)
        xi, xj = h[pairs[0]], h[pairs[1]]
        hp = self._transform(h)
        if depth <= 0:
            return self._head(xi, xj, ops.cn_sum(adj, pairs, hp))
        cn, r1, w1, r2, w2 = self.completion_sets(adj, pairs)
        with torch.no_grad():
            hin = hp if self.nested_xlin else h
            # u in N(i) \ N(j): probability of the missing edge (j, u); symmetrically for R2.
            s1 = self._complete(hin, adj, torch.stack([pairs[1][r1[0]], r1[1]]), depth - 1)
            s2 = self._complete(hin, adj, torch.stack([pairs[0][r2[0]], r2[1]]), depth - 1)
            p1 = self.calibrate(s1) * w1
            p2 = self.calibrate(s2) * w2
        z = ops.pool_pairs(cn, hp, B) + ops.pool_pairs(r1, hp, B, p1) + ops.pool_pairs(r2, hp, B, p2)
        return self._head(xi, xj, z)

    def forward(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        """Returns one logit per column of :obj:`pairs`."""
        return self._score(h, adj, pairs, self.depth)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, depth={self.depth})'
