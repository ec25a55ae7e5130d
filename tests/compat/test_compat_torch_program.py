"""A tutorial-style PyTorch program (MLP classifier: model, loss with class weights and label
smoothing, AdamW, gradient clipping, a checkpoint saved and resumed mid-way), written once and
run under nnkernels and under torch with the same starting weights: the losses match step by
step, and the resumed run continues exactly where the uninterrupted one would."""
import numpy as np

from twin import both, close, fill

rng = np.random.default_rng(14)
X = rng.standard_normal((32, 10)).astype(np.float32)
Y = (X[:, :3].sum(1) > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)
CW = np.array([1.0, 0.5, 2.0], np.float32)


class _Net:
    @staticmethod
    def make(T):
        nn = T.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(10, 16), nn.LayerNorm(16), nn.ReLU(), nn.Dropout(0.0))
                self.head = nn.Linear(16, 3)

            def forward(self, x):
                return self.head(self.body(x))
        return fill(T, Net(), 5)


def program(T, path):
    model = _Net.make(T)
    crit = T.nn.CrossEntropyLoss(weight=T.tensor(CW), label_smoothing=0.1)
    opt = T.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    x, y = T.tensor(X), T.tensor(Y)
    losses = []

    def train(model, opt, epochs):
        for _ in range(epochs):
            model.train()
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            T.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
    train(model, opt, 3)
    T.save({"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "loss": losses[-1]}, path)
    ck = T.load(path)
    model2 = _Net.make(T)
    model2.load_state_dict(ck["model_state_dict"])
    opt2 = T.optim.AdamW(model2.parameters(), lr=0.5)
    opt2.load_state_dict(ck["optimizer_state_dict"])
    assert ck["epoch"] == 3 and ck["loss"] == losses[-1]
    train(model2, opt2, 3)
    model2.eval()
    with T.no_grad():
        acc = (model2(x).argmax(1) == y).float().mean().item()
    return losses, acc


def test_mlp_program_with_checkpoint_matches_torch(tmp_path):
    (losses, acc), (tlosses, tacc) = both(lambda T: program(T, str(tmp_path / f"{T.__name__}.pt")))
    close(np.array(losses), np.array(tlosses), 1e-4)
    assert abs(acc - tacc) < 1e-6
    assert losses[-1] < losses[0]
