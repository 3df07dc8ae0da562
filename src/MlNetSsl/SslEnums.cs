namespace MlNetSsl;

/// <summary>The self-supervised pretraining methods MlNetSsl implements.</summary>
public enum SslMethod
{
    /// <summary>SimCLR (Chen et al., 2020): contrastive NT-Xent loss between two augmented views.</summary>
    SimClr,
    /// <summary>MoCo v2 (Chen et al., 2020): contrastive loss against a momentum encoder and a queue of negatives.</summary>
    MoCoV2,
    /// <summary>BYOL (Grill et al., 2020): a predictor regresses an exponential-moving-average target network.</summary>
    Byol,
    /// <summary>SimSiam (Chen and He, 2021): a predictor with stop-gradient, no negatives and no momentum encoder.</summary>
    SimSiam,
    /// <summary>Barlow Twins (Zbontar et al., 2021): drives the views' cross-correlation matrix to the identity.</summary>
    BarlowTwins,
    /// <summary>VICReg (Bardes et al., 2022): variance, invariance and covariance terms.</summary>
    Vicreg,
    /// <summary>SCARF (Bahri et al., 2022): contrastive learning on tabular rows corrupted from feature marginals.</summary>
    Scarf,
    /// <summary>VIME (Yoon et al., 2020): mask estimation plus feature reconstruction on tabular rows.</summary>
    Vime,
    /// <summary>Masked autoencoder (He et al., 2022): reconstructs masked image patches or masked features.</summary>
    MaskedAutoencoder,
}

/// <summary>The encoder (backbone) architecture.</summary>
public enum EncoderKind
{
    /// <summary>Chosen by input kind: <see cref="ConvNet"/> for images, <see cref="Mlp"/> for tabular vectors, <see cref="Conv1d"/> for series.</summary>
    Auto,
    /// <summary>A compact convolutional network; the CPU default for images.</summary>
    ConvNet,
    /// <summary>A ResNet with a CIFAR stem (depth 10 or 18, width multiplier); for GPUs or patient CPUs.</summary>
    ResNet,
    /// <summary>A multilayer perceptron for tabular vectors.</summary>
    Mlp,
    /// <summary>A residual MLP (pre-norm blocks) for tabular vectors.</summary>
    ResMlp,
    /// <summary>A 1-D convolutional network for multichannel time series.</summary>
    Conv1d,
}

/// <summary>What kind of rows the encoder sees.</summary>
public enum SslInputKind
{
    /// <summary>Images as float tensors [N, C, H, W] with values in [0, 1].</summary>
    Image,
    /// <summary>Standardized feature vectors [N, F].</summary>
    Tabular,
    /// <summary>Multichannel series [N, C, T], standardized per channel.</summary>
    Series,
}
