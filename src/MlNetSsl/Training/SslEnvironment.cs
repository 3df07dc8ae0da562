using System.Runtime.InteropServices;
using TorchSharp;

namespace MlNetSsl;

/// <summary>
/// Process-wide TorchSharp set-up: loading the native backend with a clear error, choosing the device, and CPU
/// threading. Every entry point of the library calls <see cref="EnsureInitialized"/> before touching tensors.
/// </summary>
public static class SslEnvironment
{
    private static readonly object Gate = new();
    private static volatile bool _initialized;

    private static int? _cpuThreads;

    /// <summary>
    /// Number of intra-op CPU threads libtorch uses; <c>null</c> (the default) means one per logical core. Takes effect
    /// at once, also after the first training or inference call (libtorch's setting is process-wide). libtorch's
    /// inter-op pool is kept at one thread, because on Linux the two pools together otherwise oversubscribe small machines.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public static int? CpuThreads
    {
        get => _cpuThreads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(CpuThreads), value, "CpuThreads must be at least 1, or null for one per logical core.");
            lock (Gate)
            {
                _cpuThreads = value;
                if (_initialized) torch.set_num_threads(value ?? Environment.ProcessorCount);
            }
        }
    }

    /// <summary>Loads TorchSharp's native backend and applies the threading settings, once per process.</summary>
    /// <exception cref="InvalidOperationException">The backend cannot be loaded; the message says how to fix it.</exception>
    public static void EnsureInitialized()
    {
        if (_initialized) return;
        lock (Gate)
        {
            if (_initialized) return;
            ChooseOneDnnKernels();
            KeepFreedNativeMemoryForReuse();
            bool restoreWaitPolicy = LetIdleOpenMpThreadsSleep();
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
            {
                throw new InvalidOperationException(
                    "TorchSharp's native backend could not be loaded. Reference one backend package in your application " +
                    "(TorchSharp-cpu, TorchSharp-cuda-windows or TorchSharp-cuda-linux, version 0.107.0). On Linux with a " +
                    "libstdc++ older than GLIBCXX_3.4.32 (Debian 12, Ubuntu 22.04, RHEL 9), build through the MlNetSsl " +
                    "package so its build step can patch libLibTorchSharp.so in your output folder, or, with a project " +
                    "reference to MlNetSsl.csproj, add <Import Project=\"<path to>/src/MlNetSsl/buildTransitive/MlNetSsl.targets\" /> " +
                    "to your application's project file (see README). " +
                    $"Underlying error: {e.Message}", e);
            }
            finally
            {
                // libtorch's OpenMP runtime read the variable as it loaded; other OpenMP libraries loaded later (LightGBM's,
                // a child process's) keep their own defaults.
                if (restoreWaitPolicy) _ = UnsetNativeEnvironmentVariable(NulTerminated(WaitPolicyVariable));
            }
            QuietNativeWarnings();
            torch.set_num_threads(_cpuThreads ?? Environment.ProcessorCount);
            try
            {
                torch.set_num_interop_threads(1);
            }
            catch (Exception)
            {
                // libtorch accepts this only before its first parallel work; an earlier caller already chose.
            }
            _initialized = true;
        }
    }

    // How libtorch's idle OpenMP threads wait, as set up here; part of Describe() (doctor, run logs, bug reports).
    private static string? _openMpWaiting;

    private const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>
    /// On Linux, makes libtorch's OpenMP worker threads sleep as soon as a parallel region ends instead of spinning for
    /// about 300,000 iterations first (GNU OpenMP's default). A spinning thread holds a core that the host application,
    /// another process, or the step's other thread needs: measured on a 2-core AMD EPYC host beside one busy process, a
    /// ConvNet SimCLR step took 1.14-1.26 s with the default and 0.65-0.68 s with sleeping threads (Conv1d 0.69-0.87 s
    /// against 0.41-0.49 s, SCARF 19-29 ms against 14-19 ms); on the idle host the ConvNet and Conv1d steps ran as fast
    /// either way and the SCARF step, a few milliseconds of small matrix products, about 3 ms slower (docs/benchmarks.md).
    /// GNU OpenMP reads the variable once, when libtorch loads it, so it is set just before that and removed after.
    /// Skipped when the user set <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c>, or when libtorch was loaded earlier.
    /// </summary>
    /// <returns>Whether the variable was set here (and must be removed once libtorch is loaded).</returns>
    private static bool LetIdleOpenMpThreadsSleep()
    {
        if (!OperatingSystem.IsLinux()) return false;
        // The C library's environment, the one GNU OpenMP reads (.NET keeps a copy that native code's changes miss): a
        // variable set there is the user's (or native code's) choice and not ours to change or remove.
        foreach (string chosen in new[] { WaitPolicyVariable, "GOMP_SPINCOUNT" })
        {
            if (Marshal.PtrToStringUTF8(GetNativeEnvironmentVariable(NulTerminated(chosen))) is { } value)
            {
                _openMpWaiting = $"OpenMP waits as {chosen}={value} sets";
                return false;
            }
        }
        if (LibTorchAlreadyLoaded())
        {
            _openMpWaiting = "idle OpenMP threads spin first (libtorch was loaded before MlNetSsl could set OMP_WAIT_POLICY)";
            return false;
        }
        if (SetNativeEnvironmentVariable(NulTerminated(WaitPolicyVariable), NulTerminated("PASSIVE"), overwrite: 0) != 0) return false;
        _openMpWaiting = "idle OpenMP threads sleep";
        return true;
    }

    /// <summary>Whether libtorch's CPU library is mapped into the process already (Linux).</summary>
    private static bool LibTorchAlreadyLoaded()
    {
        try
        {
            return File.ReadLines("/proc/self/maps").Any(line => line.Contains("libtorch_cpu", StringComparison.Ordinal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private const string OneDnnIsaVariable = "ONEDNN_MAX_CPU_ISA";

    // The oneDNN kernels chosen here; part of Describe().
    private static string? _oneDnnKernels;

    /// <summary>
    /// On x86-64, chooses the widest oneDNN kernels libtorch may use, by CPU vendor, unless the user chose with
    /// <c>ONEDNN_MAX_CPU_ISA</c> (or <c>DNNL_MAX_CPU_ISA</c>). oneDNN reads the variable when it creates its first
    /// primitive, so it is set before any tensor work of this library.
    /// </summary>
    private static void ChooseOneDnnKernels()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        foreach (string chosen in new[] { OneDnnIsaVariable, "DNNL_MAX_CPU_ISA" })
        {
            if (Environment.GetEnvironmentVariable(chosen) is { Length: > 0 } value)
            {
                _oneDnnKernels = $"oneDNN kernels as {chosen}={value} sets";
                return;
            }
        }
        string isa = OneDnnIsaFor(CpuVendor());
        // .NET keeps its own copy of the environment on Unix; native code reads the C library's, so set that one.
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(OneDnnIsaVariable, isa);
        else if (SetNativeEnvironmentVariable(NulTerminated(OneDnnIsaVariable), NulTerminated(isa), overwrite: 0) != 0) return;
        _oneDnnKernels = $"oneDNN kernels up to {isa}";
    }

    /// <summary>
    /// The oneDNN instruction-set ceiling for a CPU vendor. AMD (and any vendor not measured): AVX2. On a 2-core AMD
    /// EPYC host with AVX-512, oneDNN's AVX-512 kernels gave a first-step NaN loss in about half of the runs of one Conv1d
    /// pretraining, NaN from partly filled 16-channel blocks (a 24-channel convolution, 183 of 200 forwards) and a 6.4%
    /// deviation in batched ResNet-18 embeddings, at a similar ConvNet SimCLR speed. Intel: AVX-512 (<c>AVX512_CORE</c>;
    /// a CPU without it gets its widest set). On a 2-core Intel Xeon host the same checks held (batches within 1e-4 of
    /// float64, 0 of 200 forwards non-finite at 12, 24 and 40 channels) and the ConvNet SimCLR step ran 1.3-1.5x faster
    /// than with AVX2 kernels (docs/ml-net-stage.md, docs/benchmarks.md).
    /// </summary>
    internal static string OneDnnIsaFor(string cpuVendor) => cpuVendor == "GenuineIntel" ? "AVX512_CORE" : "AVX2";

    /// <summary>The CPU's vendor string from CPUID leaf 0 ("GenuineIntel", "AuthenticAMD"), or empty where CPUID is not available.</summary>
    internal static string CpuVendor()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return "";
        (_, int ebx, int ecx, int edx) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        Span<byte> vendor = stackalloc byte[12];
        BitConverter.TryWriteBytes(vendor, ebx);
        BitConverter.TryWriteBytes(vendor[4..], edx);
        BitConverter.TryWriteBytes(vendor[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(vendor);
    }

    /// <summary>
    /// On Linux with glibc, makes libtorch's freed tensor memory stay in the process for the next step instead of going
    /// back to the kernel. glibc serves allocations above 32 MiB (a 256-image batch of 32-channel 32x32 activations is
    /// exactly that) with fresh mmap pages and unmaps them on free, so every training step page-faults and zero-fills
    /// its largest tensors again; measured on a 2-core AMD EPYC host, that was most of a ConvNet step's time (encoder
    /// forward and backward 5x faster without it, in PyTorch 1.13 as in TorchSharp). mallopt turns off mmap for
    /// allocations and the trimming of the heap's top; the cost is that the process keeps its peak native memory.
    /// Skipped when the user tuned glibc's allocator (GLIBC_TUNABLES, MALLOC_*_ variables), replaced it (LD_PRELOAD),
    /// or set MLNETSSL_MALLOC_TUNING=off.
    /// </summary>
    private static void KeepFreedNativeMemoryForReuse()
    {
        if (!OperatingSystem.IsLinux()) return;
        if (string.Equals(Environment.GetEnvironmentVariable("MLNETSSL_MALLOC_TUNING"), "off", StringComparison.OrdinalIgnoreCase)) return;
        var environment = Environment.GetEnvironmentVariables();
        foreach (string name in environment.Keys.OfType<string>())
        {
            if (name is "GLIBC_TUNABLES" or "LD_PRELOAD" || (name.StartsWith("MALLOC_", StringComparison.Ordinal) && name.EndsWith('_'))) return;
        }
        // mallopt is glibc's; other C libraries (musl) may lack it or ignore these parameters.
        if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc)) return;
        try
        {
            if (!NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out _)) return;
        }
        finally
        {
            NativeLibrary.Free(libc);
        }
        const int TrimThreshold = -1, MmapMax = -4; // M_TRIM_THRESHOLD, M_MMAP_MAX in glibc's malloc.h
        _ = MallocOption(MmapMax, 0);
        _ = MallocOption(TrimThreshold, int.MaxValue);
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallocOption(int parameter, int value);

    private static byte[] NulTerminated(string text) => System.Text.Encoding.UTF8.GetBytes(text + "\0");

    // Byte arrays (blittable) rather than strings: no marshalling code, so no unsafe code in the library.
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetNativeEnvironmentVariable(byte[] name, byte[] value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetNativeEnvironmentVariable(byte[] name);

    [DllImport("libc", EntryPoint = "unsetenv")]
    private static extern int UnsetNativeEnvironmentVariable(byte[] name);

    /// <summary>
    /// libtorch logs internal warnings such as "Could not initialize NNPACK! Reason: Unsupported hardware." straight to
    /// the process's stderr, which a library must not do to its host application. Raise c10's log threshold to errors,
    /// unless the user chose a level with libtorch's own <c>TORCH_CPP_LOG_LEVEL</c> variable (set it to <c>INFO</c> or
    /// <c>WARNING</c> for verbose native logs). <c>TORCH_WARN</c> user warnings go through another channel and stay.
    /// </summary>
    private static void QuietNativeWarnings()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL"))) return;
        const int ErrorLevel = 2; // c10: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL
        // Already loaded by TorchSharp, so loading by name returns the same module.
        string library = OperatingSystem.IsWindows() ? "c10.dll" : OperatingSystem.IsMacOS() ? "libc10.dylib" : "libc10.so";
        if (System.Runtime.InteropServices.NativeLibrary.TryLoad(library, out IntPtr handle)
            && System.Runtime.InteropServices.NativeLibrary.TryGetExport(handle, "FLAGS_caffe2_log_level", out IntPtr level)
            && System.Runtime.InteropServices.Marshal.ReadInt32(level) < ErrorLevel)
        {
            System.Runtime.InteropServices.Marshal.WriteInt32(level, ErrorLevel);
        }
    }

    /// <summary>
    /// The device to train and infer on: CUDA when <paramref name="allowCuda"/> is true and a CUDA backend with a
    /// visible GPU is present, otherwise the CPU.
    /// </summary>
    /// <param name="allowCuda">Whether a GPU may be used.</param>
    public static torch.Device SelectDevice(bool allowCuda = true)
    {
        EnsureInitialized();
        return allowCuda && torch.cuda.is_available() ? torch.CUDA : torch.CPU;
    }

    /// <summary>A one-line description of the backend: TorchSharp version, device, thread count and, on Linux, how idle
    /// OpenMP threads wait.</summary>
    public static string Describe()
    {
        EnsureInitialized();
        string device = torch.cuda.is_available() ? $"CUDA ({torch.cuda.device_count()} device(s))" : "CPU";
        string version = typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown";
        return $"TorchSharp {version}, device {device}, {torch.get_num_threads()} CPU thread(s)" +
            (_oneDnnKernels is null ? "" : $", {_oneDnnKernels}") + (_openMpWaiting is null ? "" : $", {_openMpWaiting}");
    }
}
