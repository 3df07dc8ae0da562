using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>Initialization and input checks shared by the encoders.</summary>
internal static class EncoderLayers
{
    /// <summary>
    /// Kaiming-normal weights for every conv and linear layer (He et al., 2015, the ResNet recipe), zero biases,
    /// BatchNorm scale 1 and shift 0. Run once after the layers exist, so the initial scale does not depend on
    /// TorchSharp's per-layer defaults.
    /// </summary>
    public static void Initialize(nn.Module root)
    {
        using var noGrad = torch.no_grad();
        foreach ((string _, nn.Module module) in root.named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case Conv1d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case Linear linear:
                    nn.init.kaiming_normal_(linear.weight, mode: nn.init.FanInOut.FanIn, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case BatchNorm2d bn:
                    if (bn.weight is not null) nn.init.ones_(bn.weight);
                    if (bn.bias is not null) nn.init.zeros_(bn.bias);
                    break;
                case BatchNorm1d bn:
                    if (bn.weight is not null) nn.init.ones_(bn.weight);
                    if (bn.bias is not null) nn.init.zeros_(bn.bias);
                    break;
            }
        }
    }

    /// <summary>
    /// The image batch [N, C, H, W] with channels-last strides (NHWC in memory) when it is on the CPU. libtorch's CPU
    /// convolutions (oneDNN) work in that layout and otherwise reorder every input and output; convolution, BatchNorm,
    /// ReLU and pooling keep the layout, so one copy at the encoder's entrance covers the whole network, forward and
    /// backward. TorchSharp has no memory_format argument; permute-contiguous-permute produces the same strides.
    /// </summary>
    public static Tensor ChannelsLastOnCpu(Tensor images)
    {
        if (images.device_type != DeviceType.CPU || images.dim() != 4) return images;
        return images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    /// <summary>
    /// Fails with a readable message instead of a native shape error deep inside the network. Convolutional encoders
    /// pool globally, so only the rank and the channel (or feature) count must match; spatial size and length may vary.
    /// </summary>
    public static void CheckInput(Tensor input, SslInputShape shape, string encoder)
    {
        bool ok = shape.Kind switch
        {
            SslInputKind.Image => input.dim() == 4 && input.shape[1] == shape.Channels,
            SslInputKind.Series => input.dim() == 3 && input.shape[1] == shape.Channels,
            _ => input.dim() == 2 && input.shape[1] == shape.Features,
        };
        if (!ok)
        {
            string expected = shape.Kind switch
            {
                SslInputKind.Image => $"[N, {shape.Channels}, H, W]",
                SslInputKind.Series => $"[N, {shape.Channels}, T]",
                _ => $"[N, {shape.Features}]",
            };
            throw new ArgumentException($"{encoder} expects a batch shaped {expected}, got [{string.Join(", ", input.shape)}].", nameof(input));
        }
    }
}
