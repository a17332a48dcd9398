//! ResNet-18 (He et al. 2016) for any number of input channels, ending in global average pooling:
//! the output is the `8 * width`-d representation (512 for the standard width 64). Layer names
//! follow torchvision's (`conv1`, `bn1`, `layer1.0.conv1`, ..., `downsample.0/1`), so weights map
//! one to one onto torchvision's `resnet18` with `conv1` widened to `C` channels.

use tch::nn::{self, ModuleT};
use tch::Tensor;

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    nn::conv2d(
        p,
        c_in,
        c_out,
        k,
        nn::ConvConfig {
            stride,
            padding,
            bias: false,
            ..Default::default()
        },
    )
}

#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    down: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl Block {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, stride: i64) -> Self {
        let down = (stride != 1 || c_in != c_out).then(|| {
            (
                conv(p / "downsample" / "0", c_in, c_out, 1, stride, 0),
                nn::batch_norm2d(p / "downsample" / "1", c_out, Default::default()),
            )
        });
        Block {
            conv1: conv(p / "conv1", c_in, c_out, 3, stride, 1),
            bn1: nn::batch_norm2d(p / "bn1", c_out, Default::default()),
            conv2: conv(p / "conv2", c_out, c_out, 3, 1, 1),
            bn2: nn::batch_norm2d(p / "bn2", c_out, Default::default()),
            down,
        }
    }
}

impl ModuleT for Block {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = xs
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train);
        let short = match &self.down {
            Some((c, b)) => xs.apply(c).apply_t(b, train),
            None => xs.shallow_clone(),
        };
        (y + short).relu()
    }
}

/// The encoder network (no classification layer).
#[derive(Debug)]
pub struct ResNet18 {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    blocks: Vec<Block>,
}

impl ResNet18 {
    pub fn new(p: &nn::Path, in_channels: i64, width: i64) -> Self {
        let mut blocks = Vec::new();
        let mut c_in = width;
        for (layer, mult) in [(1, 1), (2, 2), (3, 4), (4, 8)] {
            let c_out = width * mult;
            let lp = p / format!("layer{layer}");
            let stride = if layer == 1 { 1 } else { 2 };
            blocks.push(Block::new(&(&lp / "0"), c_in, c_out, stride));
            blocks.push(Block::new(&(&lp / "1"), c_out, c_out, 1));
            c_in = c_out;
        }
        ResNet18 {
            conv1: conv(p / "conv1", in_channels, width, 7, 2, 3),
            bn1: nn::batch_norm2d(p / "bn1", width, Default::default()),
            blocks,
        }
    }
}

impl ModuleT for ResNet18 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut h = xs
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for b in &self.blocks {
            h = b.forward_t(&h, train);
        }
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

/// SimCLR's projection head: Linear, ReLU, Linear.
#[derive(Debug)]
pub struct Projection {
    l1: nn::Linear,
    l2: nn::Linear,
}

impl Projection {
    pub fn new(p: &nn::Path, c_in: i64, hidden: i64, out: i64) -> Self {
        Projection {
            l1: nn::linear(p / "0", c_in, hidden, Default::default()),
            l2: nn::linear(p / "2", hidden, out, Default::default()),
        }
    }
}

impl nn::Module for Projection {
    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.apply(&self.l1).relu().apply(&self.l2)
    }
}
