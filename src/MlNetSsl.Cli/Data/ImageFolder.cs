using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML;
using MlNetSsl.Cli.CodeGen;
using MlNetSsl.Cli.Commands;
using SkiaSharp;

namespace MlNetSsl.Cli.Data;

/// <summary>
/// Reads an image folder the Model Builder way: <c>&lt;folder&gt;/&lt;class&gt;/**/*.jpg|png|...</c>, plus an unlabeled
/// sub-folder whose images have no label. Unreadable files are skipped and listed (or refused with --strict).
/// </summary>
internal static class ImageFolder
{
    // An interrupted copy or download; named as such rather than as an image the decoder cannot open.
    private const string EmptyFile = "an empty file (0 bytes)";

    public const string PathColumn = "ImagePath";

    // .jfif and .jpe are JPEGs by other names (browsers on Windows save web photos as .jfif); the decoder reads the content.
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".bmp", ".gif", ".webp" };

    // Image formats the decoder (SkiaSharp) does not read: listed as skipped, so they do not vanish without a word.
    private static readonly HashSet<string> UnreadableImageExtensions = new(StringComparer.OrdinalIgnoreCase)
        { ".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2", ".jxl", ".psd", ".dng", ".cr2", ".nef", ".arw", ".svg" };

    private const string SupportedFormats = ".jpg, .jpeg, .jfif, .png, .bmp, .gif, .webp";

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    /// <summary>The sub-folder name <c>--unlabeled-folder</c> takes when not given.</summary>
    public const string DefaultUnlabeledFolder = "unlabeled";

    /// <summary>
    /// The unlabeled folder's name as it is in <paramref name="root"/>: the default's British spelling ("unlabelled") when
    /// only that is there, since a folder so named is never meant as a class. A name given to <c>--unlabeled-folder</c>
    /// that no sub-folder has is refused in training: its images would otherwise become a class of their own, silently.
    /// </summary>
    internal static string UnlabeledFolderIn(string root, string folder, string unlabeledFolder, bool forTraining)
    {
        string[] names = [.. Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];
        if (names.Contains(unlabeledFolder, StringComparer.OrdinalIgnoreCase)) return unlabeledFolder;
        // Class folders' names are trimmed (ClassOf), so 'unlabeled ' would be a class named 'unlabeled': it is this folder.
        if (names.FirstOrDefault(n => string.Equals(n.Trim(), unlabeledFolder, StringComparison.OrdinalIgnoreCase)) is { } blanks) return blanks;
        if (string.Equals(unlabeledFolder, DefaultUnlabeledFolder, StringComparison.OrdinalIgnoreCase))
            return names.FirstOrDefault(n => string.Equals(n.Trim(), "unlabelled", StringComparison.OrdinalIgnoreCase)) ?? unlabeledFolder;
        if (forTraining)
            throw new CliException($"{folder}: --unlabeled-folder '{unlabeledFolder}' is not one of its sub-folders " +
                $"({(names.Length == 0 ? "it has none" : string.Join(", ", names.Take(20).Select(n => $"'{n}'")) + (names.Length > 20 ? ", ..." : ""))}); " +
                "give the name of the folder that holds the unlabeled images, or leave the option out when every image is in a class folder.");
        return unlabeledFolder;
    }

    /// <summary>Loads <paramref name="folder"/>; <paramref name="forTraining"/> demands two classes and a labeled image.</summary>
    public static TrainingData Load(MLContext ml, string folder, string unlabeledFolder, bool strict, bool forTraining)
    {
        DatasetReader.CheckPath("image-classification", folder);
        string root = Path.GetFullPath(folder);
        unlabeledFolder = UnlabeledFolderIn(root, folder, unlabeledFolder, forTraining);
        var hidden = new List<string>();
        var classFolders = Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .Where(d => !string.Equals(Path.GetFileName(d), unlabeledFolder, StringComparison.OrdinalIgnoreCase)).ToList();
        hidden.AddRange(classFolders.Where(IsHidden).Select(d => Path.GetFileName(d) + "/"));
        classFolders.RemoveAll(IsHidden);
        string? unlabeled = Directory.GetDirectories(root)
            .FirstOrDefault(d => string.Equals(Path.GetFileName(d), unlabeledFolder, StringComparison.OrdinalIgnoreCase));

        var candidates = new List<(string Path, string Label)>();
        var otherFormats = new List<string>();
        // The dataset folder and its class folders count as visited from the start, so a link inside a class folder
        // that points back up the tree (or at another class) neither loops nor relabels another class's images.
        var visited = new HashSet<string>([RealPath(root), .. classFolders.Select(RealPath), .. unlabeled is null ? [] : new[] { RealPath(unlabeled) }],
            StringComparer.Ordinal);
        // A class is its folder's name in Unicode's composed form (NFC): macOS writes 'ü' decomposed, so a folder copied
        // from a Mac beside one made elsewhere looked the same and was another class, and the model split the class in two.
        foreach (string classFolder in classFolders)
            candidates.AddRange(ImagesUnder(classFolder, visited, otherFormats, hidden).Order(StringComparer.Ordinal)
                .Select(p => (p, ClassOf(Path.GetFileName(classFolder)))));
        if (unlabeled is not null) candidates.AddRange(ImagesUnder(unlabeled, visited, otherFormats, hidden).Order(StringComparer.Ordinal).Select(p => (p, "")));
        string Relative(string h) => Path.GetRelativePath(root, h).Replace('\\', '/');
        hidden = [.. hidden.Select(h => !Path.IsPathRooted(h) ? h : h.EndsWith('/') ? Relative(h.TrimEnd('/')) + "/" : Relative(h)).Order(StringComparer.Ordinal)];
        if (!forTraining) otherFormats.AddRange(Directory.EnumerateFiles(root).Where(f => UnreadableImageExtensions.Contains(Path.GetExtension(f))));
        if (strict && otherFormats.Count > 0)
            throw new CliException($"{otherFormats[0]}: {Path.GetExtension(otherFormats[0]).ToLowerInvariant()} is not a format this tool reads ({SupportedFormats}); " +
                "convert it, or drop --strict to skip such files.");
        string formatHint = otherFormats.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
            $" {otherFormats.Count:N0} file(s) are images in a format this tool does not read ({string.Join(", ", otherFormats.Select(f => Path.GetExtension(f).ToLowerInvariant()).Distinct())}); convert them to {SupportedFormats}.");
        // Images directly in the folder have no class folder: scored as unlabeled rows (a folder of new images to
        // predict), but left out of training, where the layout must say which are labeled.
        var topLevel = Directory.EnumerateFiles(root).Where(f => Extensions.Contains(Path.GetExtension(f)) && !IsHidden(f)).Order(StringComparer.Ordinal).ToList();
        if (!forTraining) candidates.AddRange(topLevel.Select(p => (p, "")));

        if (forTraining)
        {
            var classes = candidates.Where(c => c.Label.Length > 0).Select(c => c.Label).Distinct().ToList();
            if (classes.Count == 0 && topLevel.Count > 0)
                throw new CliException($"{folder}: its {topLevel.Count:N0} image(s) lie directly in it, not in class sub-folders; training needs " +
                    $"one sub-folder per class (<folder>/<class>/*.jpg), unlabeled images in <folder>/{unlabeledFolder}/.");
            if (classes.Count == 0)
                throw new CliException($"{folder}: no labeled image; put images ({SupportedFormats}) in one sub-folder per class (<folder>/<class>/*.jpg), " +
                    $"unlabeled ones in <folder>/{unlabeledFolder}/." + formatHint);
            if (classes.Count == 1)
                throw new CliException($"{folder}: only one class folder with images ('{classes[0]}'); a classifier needs at least two, " +
                    "so add a sub-folder of images for another class.");
        }
        else if (candidates.Count == 0)
        {
            throw new CliException($"{folder}: no image files ({SupportedFormats}) under it." + formatHint);
        }

        var rows = new List<ImageRow>();
        var names = new List<string>();
        var skipped = otherFormats.Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(root, f).Replace('\\', '/')}: {Path.GetExtension(f).ToLowerInvariant()} is not a format this tool reads ({SupportedFormats}); convert it")
            .ToList();
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        var byHash = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var hashes = new List<string>();
        var pictureInAlpha = new List<string>();
        int alphaChecked = 0;
        foreach (var (path, label) in candidates)
        {
            string name = Path.GetRelativePath(root, path).Replace('\\', '/');
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A dangling link, a file without read permission or one removed meanwhile: one bad file, not a failed run.
                if (strict) throw new CliException($"{path}: cannot be read ({e.Message}); fix or remove it, or drop --strict to skip unreadable files.", e);
                skipped.Add($"{name}: cannot be read ({e.GetType().Name})");
                continue;
            }
            if (bytes.Length == 0)
            {
                if (strict) throw new CliException($"{path}: {EmptyFile}; remove it, or drop --strict to skip unreadable files.");
                skipped.Add($"{name}: {EmptyFile}");
                continue;
            }
            using var codec = SKCodec.Create(new MemoryStream(bytes));
            if (codec is null || codec.Info.Width <= 0 || codec.Info.Height <= 0)
            {
                if (strict) throw new CliException($"{path}: not a readable image; remove it, or drop --strict to skip unreadable files.");
                skipped.Add($"{name}: not a readable image");
                continue;
            }
            if (TooLarge(codec) is { } tooLarge)
            {
                if (strict) throw new CliException($"{path}: {tooLarge}; drop --strict to skip it.");
                skipped.Add($"{name}: {tooLarge}");
                continue;
            }
            // The header can be whole where the pixels are not (an interrupted download or copy): the decoder then fills
            // the missing part with grey, a picture no one took, so such a file is skipped like an unreadable one.
            if (!EndsWhole(bytes) && Damaged(codec) is { } damage)
            {
                if (strict) throw new CliException($"{path}: {damage}; replace or remove it, or drop --strict to skip damaged files.");
                skipped.Add($"{name}: {damage}");
                continue;
            }
            if (codec.Info.AlphaType != SKAlphaType.Opaque && (pictureInAlpha.Count > 0 || alphaChecked++ < AlphaImagesChecked) && PictureOnlyInAlpha(codec))
                pictureInAlpha.Add(name);
            // The size as shown: a photo with an EXIF quarter turn is read turned (the stage applies the orientation).
            string size = ImageOrientation.IsQuarterTurn(codec.EncodedOrigin) ? $"{codec.Info.Height}x{codec.Info.Width}" : $"{codec.Info.Width}x{codec.Info.Height}";
            sizes[size] = sizes.GetValueOrDefault(size) + 1;
            string hash = Convert.ToHexString(SHA256.HashData(bytes));
            if (!byHash.TryGetValue(hash, out var same)) byHash[hash] = same = [];
            same.Add(name);
            hashes.Add(hash);
            rows.Add(new ImageRow { ImagePath = path, Label = label });
            names.Add(name);
        }
        // Say which files and why (the run's skip list is never printed when this ends it), as a one-line error.
        if (rows.Count == 0)
            throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{folder}: none of its {candidates.Count:N0} image files could be read (") +
                string.Join("; ", skipped.Take(3)) + (skipped.Count > 3 ? string.Create(CultureInfo.InvariantCulture, $"; and {skipped.Count - 3:N0} more") : "") +
                $"); replace them with whole copies, or convert them to {SupportedFormats}.");

        string[] paths = rows.Select(r => r.ImagePath).ToArray();
        var learned = rows.Select(r => r.Label).ToHashSet(StringComparer.Ordinal);
        return new TrainingData
        {
            Kind = DatasetKind.Images,
            LabelColumn = "Label",
            View = ml.Data.LoadFromEnumerable(rows),
            Columns = [new InputColumn(PathColumn, PathColumn, InputColumnKind.ImagePath, null)],
            Labels = rows.Select(r => r.Label).ToArray(),
            RowNames = [.. names],
            RowValues = row => new Dictionary<string, string> { [PathColumn] = paths[row] },
            ImagePaths = paths,
            Skipped = skipped,
            IgnoredTopLevel = forTraining ? topLevel.Select(p => Path.GetFileName(p)).ToList() : [],
            // A folder named decomposed (copied from a Mac) or with blanks around its name holds images of its class.
            EmptyClassFolders = forTraining ? classFolders.Select(Path.GetFileName).OfType<string>()
                .Where(f => !learned.Contains(ClassOf(f))).ToList() : [],
            Duplicates = byHash.Values.Where(g => g.Count > 1).Select(g => (IReadOnlyList<string>)g).ToList(),
            ContentHashes = [.. hashes],
            PictureInAlpha = pictureInAlpha,
            HiddenEntries = hidden,
            SizeSummary = sizes.OrderByDescending(s => s.Value).Select(s => $"{s.Key}: {s.Value:N0}").ToList(),
        };
    }

    /// <summary>The class of a class folder: its name without blanks around it, in Unicode's composed form (NFC). 'ship '
    /// (a blank typed after the name) beside 'ship' was a second class, and a folder copied from a Mac names 'ü'
    /// decomposed; a CSV's label cells are trimmed and composed alike. A name of blanks only stays as it is.</summary>
    internal static string ClassOf(string folderName) =>
        ClassLabels.Compose(folderName.Trim().Length > 0 ? folderName.Trim() : folderName);

    /// <summary>Whether <paramref name="extension"/> (with its dot) is one of the image formats the tool decodes.</summary>
    internal static bool IsImageExtension(string extension) => Extensions.Contains(extension);

    /// <summary>One image file, unlabeled.</summary>
    public static TrainingData LoadFile(MLContext ml, string file)
    {
        string path = Path.GetFullPath(file);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{file}: cannot be read ({e.Message}).", e);
        }
        if (bytes.Length == 0) throw new CliException($"{file}: {EmptyFile}; replace it with a whole copy of the image.");
        using (var codec = SKCodec.Create(new MemoryStream(bytes)))
        {
            if (codec is null) throw new CliException($"{file}: not a readable image (cut short or not a JPEG, PNG, BMP, GIF or WEBP file); replace it with a whole copy, or convert it to PNG or JPEG.");
            if (TooLarge(codec) is { } tooLarge) throw new CliException($"{file}: {tooLarge}.");
            if (!EndsWhole(bytes) && Damaged(codec) is { } damage) throw new CliException($"{file}: {damage}; replace it with a whole copy.");
        }
        return new TrainingData
        {
            Kind = DatasetKind.Images,
            LabelColumn = "Label",
            View = ml.Data.LoadFromEnumerable([new ImageRow { ImagePath = path }]),
            Columns = [new InputColumn(PathColumn, PathColumn, InputColumnKind.ImagePath, null)],
            Labels = [""],
            RowNames = [Path.GetFileName(path)],
            RowValues = _ => new Dictionary<string, string> { [PathColumn] = path },
            ImagePaths = [path],
        };
    }

    /// <summary>The most pixels an image may hold: the model decodes every image whole (ML.NET's LoadImages) before it
    /// resizes it, at about 4 bytes a pixel for each of several copies, so a small file of a huge plain picture (a
    /// 20000x20000 PNG of 1 MB) took over 5 GB of memory and 20 s to score, and a larger one would exhaust the machine.
    /// 100 megapixels is above the photos of today's cameras and phones.</summary>
    internal const long MaxPixels = 100_000_000;

    /// <summary>Why the image is too large to decode (more than <see cref="MaxPixels"/>), or null.</summary>
    internal static string? TooLarge(SKCodec codec)
    {
        long pixels = (long)codec.Info.Width * codec.Info.Height;
        return pixels <= MaxPixels ? null : string.Create(CultureInfo.InvariantCulture,
            $"{codec.Info.Width}x{codec.Info.Height} pixels ({pixels / 1e6:0} megapixels), more than the {MaxPixels / 1_000_000} megapixels this tool decodes " +
            $"(the model decodes an image whole before resizing it, about {pixels * 4 / 1e9:0.#} GB a copy); downscale it");
    }

    /// <summary>
    /// Whether the file ends as a whole file of its format ends (JPEG's end-of-image marker, PNG's IEND chunk, GIF's
    /// trailer, the length BMP and WebP headers give): a cut file does not, so only those are decoded to find out
    /// (<see cref="Damaged"/>), and a folder of large photos is checked at the cost of reading it.
    /// </summary>
    internal static bool EndsWhole(ReadOnlySpan<byte> file)
    {
        if (file.Length < 12) return false;
        ReadOnlySpan<byte> tail = file[Math.Max(0, file.Length - 1024)..];
        if (file[0] == 0xFF && file[1] == 0xD8) return tail.IndexOf([(byte)0xFF, (byte)0xD9]) >= 0;
        if (file[..8].SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A })) return tail.IndexOf("IEND"u8) >= 0;
        if (file[..3].SequenceEqual("GIF"u8)) return tail.TrimEnd((byte)0).EndsWith([(byte)0x3B]);
        if (file[..2].SequenceEqual("BM"u8)) return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(file[2..6]) <= file.Length;
        if (file[..4].SequenceEqual("RIFF"u8) && file[8..12].SequenceEqual("WEBP"u8))
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(file[4..8]) + 8L <= file.Length;
        return false;
    }

    /// <summary>
    /// What is wrong with the pixels of an image whose header reads: null when it decodes whole, else why not. JPEGs decode
    /// at an eighth of their size (the decoder still reads every byte), so a folder of large photos is checked quickly.
    /// </summary>
    internal static string? Damaged(SKCodec codec)
    {
        SKSizeI size = codec.GetScaledDimensions(0.125f);
        var info = new SKImageInfo(Math.Max(1, size.Width), Math.Max(1, size.Height), SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        SKCodecResult result = codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.InvalidScale)
        {
            info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            using var whole = new SKBitmap(info);
            result = codec.GetPixels(info, whole.GetPixels());
        }
        return result switch
        {
            SKCodecResult.Success => null,
            // Only files that do not end as a whole file of their format are decoded here: a progressive JPEG cut short
            // (web photos often are progressive) fails as invalid input rather than incomplete, and is as truncated.
            SKCodecResult.IncompleteInput or SKCodecResult.InvalidInput => "a truncated image (the file ends before its last pixels)",
            SKCodecResult.ErrorInInput => "a damaged image (its pixel data does not decode)",
            _ => $"an image the decoder cannot read ({result})",
        };
    }

    /// <summary>
    /// Whether the image's picture is only in its transparency: the model drops alpha as image libraries do when they
    /// convert to RGB (MlNetSsl's stage, ML.NET's ExtractPixels, PIL's convert("RGB")), with a fully transparent pixel black,
    /// so black ink on a transparent background (signatures, glyphs, icons and cut-outs are often saved so) reads as a
    /// blank black square. True when the colours the model reads vary by at most 16 of 255 in every channel while the
    /// alpha varies by 64 or more.
    /// </summary>
    internal static bool PictureOnlyInAlpha(SKCodec codec)
    {
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        if (codec.GetPixels(info, bitmap.GetPixels()) != SKCodecResult.Success) return false;
        ReadOnlySpan<byte> pixels = bitmap.GetPixelSpan();
        int alphaMin = 255, alphaMax = 0;
        Span<int> min = [255, 255, 255], max = [0, 0, 0];
        for (int i = 0; i < pixels.Length; i += 4)
        {
            int alpha = pixels[i + 3];
            alphaMin = Math.Min(alphaMin, alpha);
            alphaMax = Math.Max(alphaMax, alpha);
            for (int c = 0; c < 3; c++)
            {
                // The colour as the stage takes it back from the premultiplied pixel (InputColumnReader.Unpremultiplied).
                int value = alpha == 0 ? 0 : Math.Min(255, (pixels[i + c] * 255 + alpha / 2) / alpha);
                min[c] = Math.Min(min[c], value);
                max[c] = Math.Max(max[c], value);
            }
        }
        return alphaMax - alphaMin >= 64 && max[0] - min[0] <= 16 && max[1] - min[1] <= 16 && max[2] - min[2] <= 16;
    }

    /// <summary>How many images with an alpha channel <see cref="Load"/> decodes to look for a picture only in the alpha
    /// before it stops, when none of them was such a picture: a folder comes from one export, and a decode is the cost
    /// (46 ms for a 1600x1200 RGBA PNG, where reading its header takes under 1 ms).</summary>
    internal const int AlphaImagesChecked = 100;

    /// <summary>Folders and files that tools leave beside the data, not data: names starting with a dot (.ipynb_checkpoints,
    /// .DS_Store, macOS' ._ copies) and the __MACOSX folder of zips made on macOS.</summary>
    internal static bool IsHidden(string path)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        return name.StartsWith('.') || string.Equals(name, "__MACOSX", StringComparison.OrdinalIgnoreCase);
    }

    // Files of the folder and of its sub-folders, depth first, each folder once (linked folders are followed); hidden
    // entries (IsHidden) are left out and added to hidden.
    private static List<string> ImagesUnder(string folder, HashSet<string> visited, List<string> otherFormats, List<string> hidden)
    {
        var files = new List<string>();
        foreach (string file in Directory.EnumerateFiles(folder))
        {
            if (IsHidden(file))
            {
                if (Extensions.Contains(Path.GetExtension(file)) || UnreadableImageExtensions.Contains(Path.GetExtension(file))) hidden.Add(file);
            }
            else if (Extensions.Contains(Path.GetExtension(file))) files.Add(file);
            else if (UnreadableImageExtensions.Contains(Path.GetExtension(file))) otherFormats.Add(file);
        }
        foreach (string sub in Directory.EnumerateDirectories(folder))
        {
            if (IsHidden(sub))
            {
                hidden.Add(sub + "/");
                continue;
            }
            try
            {
                if (visited.Add(RealPath(sub))) files.AddRange(ImagesUnder(sub, visited, otherFormats, hidden));
            }
            catch (IOException)
            {
                // A sub-folder link that cannot be resolved (a cycle of links): nothing to read there.
            }
        }
        return files;
    }

    private static string RealPath(string folder)
    {
        var info = new DirectoryInfo(folder);
        string path = info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
        return Path.TrimEndingDirectorySeparator(path);
    }
}
