using Microsoft.ML;
using MlNetSsl.Cli.Commands;
using MlNetSsl.Cli.Data;
using MlNetSsl.Tests.Infrastructure;
using SkiaSharp;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// How the tool reads an image folder a user brings: files it cannot read (a dangling link) are skipped and listed
/// like undecodable ones, linked class folders count, and a link back up the tree does not make the walk loop.
/// </summary>
public sealed class ImageFolderTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mlnetssl-images-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string[] Cifar(string cls, int count) =>
        Directory.GetFiles(Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small", "train", cls))
            .Order(StringComparer.Ordinal).Take(count).ToArray();

    private string Folder()
    {
        string root = Path.Combine(_work, "pets");
        foreach (string cls in new[] { "cat", "ship" })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            foreach (string f in Cifar(cls, 4)) File.Copy(f, Path.Combine(root, cls, Path.GetFileName(f)));
        }
        return root;
    }

    [SkippableFact]
    public void ClassFoldersNamedAlikeInTwoUnicodeFormsAreOneClass()
    {
        // A new user's folder of MNIST digits where half of 'eins ü' came from a Mac (the name written decomposed, NFD)
        // and half from Linux (composed, NFC): two folders that look the same were two classes, and the model split
        // the digit between them (0.77 hold-out accuracy where one class gave 0.98).
        string composed = "Katze \u00e4", decomposed = composed.Normalize(System.Text.NormalizationForm.FormD);
        string root = Path.Combine(_work, "forms");
        string[] cats = Cifar("cat", 8);
        foreach (var (name, files) in new[] { (composed, cats[..4]), (decomposed, cats[4..]), ("ship", Cifar("ship", 4)) })
        {
            Directory.CreateDirectory(Path.Combine(root, name));
            foreach (string f in files) File.Copy(f, Path.Combine(root, name, Path.GetFileName(f)));
        }
        Skip.If(Directory.GetDirectories(root).Length != 3, "this file system stores the two forms as one name");

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(12, data.Count);
        var classes = data.ClassCounts();
        Assert.Equal(2, classes.Count);
        Assert.Equal(8, classes[composed]);
    }

    [SkippableFact]
    public void ADanglingLinkIsSkippedAndListedAndStrictNamesIt()
    {
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "symbolic links without privileges are a POSIX feature");
        string root = Folder();
        File.CreateSymbolicLink(Path.Combine(root, "cat", "gone.jpg"), Path.Combine(_work, "deleted", "x.jpg"));

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(8, data.Count);
        Assert.Contains(data.Skipped, s => s.StartsWith("cat/gone.jpg: cannot be read", StringComparison.Ordinal));

        var strict = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true));
        Assert.Contains("gone.jpg", strict.Message, StringComparison.Ordinal);
        Assert.Contains("--strict", strict.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ALinkedClassFolderCountsAndALinkUpTheTreeDoesNotLoop()
    {
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "symbolic links without privileges are a POSIX feature");
        string root = Folder();
        string elsewhere = Path.Combine(_work, "elsewhere", "frogs");
        Directory.CreateDirectory(elsewhere);
        foreach (string f in Cifar("frog", 3)) File.Copy(f, Path.Combine(elsewhere, Path.GetFileName(f)));
        Directory.CreateSymbolicLink(Path.Combine(root, "frog"), elsewhere);
        Directory.CreateSymbolicLink(Path.Combine(root, "ship", "loop"), root);

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(new Dictionary<string, int> { ["cat"] = 4, ["frog"] = 3, ["ship"] = 4 }, data.ClassCounts().OrderBy(c => c.Key).ToDictionary());
    }

    [SkippableFact]
    public void AnUnlabeledFolderThatIsNotThereIsRefusedAndTheBritishSpellingIsTheDefaultsFolder()
    {
        string root = Folder();
        string unlabelled = Path.Combine(root, "unlabelled");
        Directory.CreateDirectory(unlabelled);
        foreach (string f in Cifar("frog", 5)) File.Copy(f, Path.Combine(unlabelled, Path.GetFileName(f)));

        // The default's British spelling holds the unlabeled images: not a third class.
        TrainingData data = ImageFolder.Load(new MLContext(0), root, ImageFolder.DefaultUnlabeledFolder, strict: false, forTraining: true);
        Assert.Equal(13, data.Count);
        Assert.Equal(8, data.LabeledCount);
        Assert.Equal(["cat", "ship"], data.ClassCounts().Keys.Order(StringComparer.Ordinal));

        // A mistyped name is refused in training, naming the sub-folders, rather than making those images a class.
        var refused = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), root, "unlabeld", strict: false, forTraining: true));
        Assert.Contains("--unlabeled-folder 'unlabeld' is not one of its sub-folders ('cat', 'ship', 'unlabelled')", refused.Message, StringComparison.Ordinal);
        // A folder to score may have no unlabeled folder at all.
        Assert.Equal(13, ImageFolder.Load(new MLContext(0), root, "unlabeld", strict: false, forTraining: false).Count);
    }

    [SkippableFact]
    public void AClassFolderNamedInDecomposedFormIsNotListedAsWithoutAnImage()
    {
        // A folder copied from a Mac names 'Katze ä' decomposed (NFD); its class is the composed name, and the folder was
        // then listed as a class folder without a readable image ("not learned as classes") although its images were learned.
        string decomposed = "Katze \u00e4".Normalize(System.Text.NormalizationForm.FormD);
        string root = Path.Combine(_work, "mac");
        foreach (var (name, files) in new[] { (decomposed, Cifar("cat", 4)), ("ship", Cifar("ship", 4)), ("empty", Array.Empty<string>()) })
        {
            Directory.CreateDirectory(Path.Combine(root, name));
            foreach (string f in files) File.Copy(f, Path.Combine(root, name, Path.GetFileName(f)));
        }
        Skip.If(!Directory.GetDirectories(root).Any(d => Path.GetFileName(d) == decomposed), "this file system composes names itself");

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(8, data.Count);
        Assert.Equal(["empty"], data.EmptyClassFolders);
    }

    [SkippableFact]
    public void AClassFolderNameWithBlanksAroundItIsTheClassWithoutThem()
    {
        // 'ship ' (a blank typed after the name, or kept by an unzip) beside 'ship' split one class in two, and the console
        // said nothing (only the search's note in log.txt); the tool trims a CSV's label cells, so a folder's name the same.
        string root = Folder();
        Directory.CreateDirectory(Path.Combine(root, "ship "));
        foreach (string f in Cifar("ship", 6)[4..]) File.Copy(f, Path.Combine(root, "ship ", Path.GetFileName(f)));
        Directory.CreateDirectory(Path.Combine(root, " dog"));
        foreach (string f in Cifar("dog", 2)) File.Copy(f, Path.Combine(root, " dog", Path.GetFileName(f)));

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        var classes = data.ClassCounts();
        Assert.Equal(["cat", "dog", "ship"], classes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(6, classes["ship"]);
        Assert.Empty(data.EmptyClassFolders);
        // A test folder is read the same way, so its 'ship ' images score against the class 'ship'.
        Assert.Equal(["cat", "dog", "ship"], ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: false)
            .Labels.Distinct().Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public void AProgressiveJpegCutShortIsNamedTruncated()
    {
        // Web photos are often progressive JPEGs; one cut short (an interrupted download) was skipped as "an image the
        // decoder cannot read (InvalidInput)", the decoder's word, where a cut baseline JPEG is named truncated.
        byte[] progressive = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "cat-progressive.jpg"));
        string root = Folder();
        File.WriteAllBytes(Path.Combine(root, "cat", "cut.jpg"), progressive[..(progressive.Length / 2)]);

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(8, data.Count);
        string skipped = Assert.Single(data.Skipped);
        Assert.StartsWith("cat/cut.jpg: a truncated image", skipped, StringComparison.Ordinal);
        var single = Assert.Throws<CliException>(() => ImageFolder.LoadFile(new MLContext(0), Path.Combine(root, "cat", "cut.jpg")));
        Assert.Contains("cut.jpg: a truncated image", single.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AFolderWhereNoImageReadsSaysWhichFilesAndWhy()
    {
        byte[] progressive = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "cat-progressive.jpg"));
        // A folder where no file reads (a copy interrupted throughout) said only "none of its 2 image files could be read",
        // and the skip list that names them is never printed when this error ends the run: the error now names them.
        string cut = Path.Combine(_work, "cut");
        Directory.CreateDirectory(cut);
        File.WriteAllBytes(Path.Combine(cut, "a.jpg"), progressive[..(progressive.Length / 2)]);
        File.WriteAllBytes(Path.Combine(cut, "b.jpg"), []);
        var none = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), cut, "unlabeled", strict: false, forTraining: false));
        Assert.Contains("none of its 2 image files could be read", none.Message, StringComparison.Ordinal);
        Assert.Contains("a.jpg: a truncated image", none.Message, StringComparison.Ordinal);
        Assert.Contains("b.jpg: an empty file (0 bytes)", none.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void JpegsSavedAsJfifOrJpeAreImages()
    {
        // Browsers on Windows save many web photos as .jfif, a JPEG by another name: a class folder of them was dropped
        // without a word (neither read nor listed as skipped), and with it the class.
        string root = Folder();
        Directory.CreateDirectory(Path.Combine(root, "dog"));
        string[] dogs = Cifar("dog", 4);
        for (int i = 0; i < dogs.Length; i++) File.Copy(dogs[i], Path.Combine(root, "dog", $"web{i}{(i % 2 == 0 ? ".jfif" : ".JPE")}"));

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true);
        Assert.Equal(4, data.ClassCounts()["dog"]);
        Assert.Empty(data.EmptyClassFolders);
        Assert.True(ImageFolder.IsImageExtension(".jfif"));
    }

    [SkippableFact]
    public void AnUnlabeledFolderNamedWithABlankAfterItHoldsUnlabeledImages()
    {
        // With class names trimmed, 'unlabeled ' would become a class named 'unlabeled': it is the unlabeled folder.
        string root = Folder();
        Directory.CreateDirectory(Path.Combine(root, "unlabeled "));
        foreach (string f in Cifar("dog", 3)) File.Copy(f, Path.Combine(root, "unlabeled ", Path.GetFileName(f)));

        TrainingData data = ImageFolder.Load(new MLContext(0), root, ImageFolder.DefaultUnlabeledFolder, strict: false, forTraining: true);
        Assert.Equal(11, data.Count);
        Assert.Equal(8, data.LabeledCount);
        Assert.Equal(["cat", "ship"], data.ClassCounts().Keys.Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public void AClassFolderWithoutAReadableImageIsListedForTrainingOnly()
    {
        string root = Folder();
        Directory.CreateDirectory(Path.Combine(root, "dog"));
        File.WriteAllText(Path.Combine(root, "dog", "notes.txt"), "not an image");
        Directory.CreateDirectory(Path.Combine(root, "horse"));
        File.WriteAllText(Path.Combine(root, "horse", "broken.jpg"), "not a jpeg either");

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(["dog", "horse"], data.EmptyClassFolders);
        Assert.Equal(8, data.Count);
        Assert.Empty(ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: false).EmptyClassFolders);
    }

    [SkippableFact]
    public void ImagesInAFormatTheToolDoesNotReadAreListedNotDroppedWithoutAWord()
    {
        string root = Folder();
        File.WriteAllBytes(Path.Combine(root, "cat", "scan.TIF"), [0x49, 0x49, 0x2A, 0x00]);

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(8, data.Count);
        Assert.Contains(data.Skipped, s => s.StartsWith("cat/scan.TIF: .tif is not a format this tool reads", StringComparison.Ordinal));
        var strict = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true));
        Assert.Contains("scan.TIF", strict.Message, StringComparison.Ordinal);

        // Class folders of such images only: the error says what is there and what to do, not only that nothing is labeled.
        string tiffs = Path.Combine(_work, "tiffs");
        foreach (string cls in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(tiffs, cls));
            File.WriteAllBytes(Path.Combine(tiffs, cls, "1.tiff"), [0x49, 0x49, 0x2A, 0x00]);
        }
        var none = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), tiffs, "unlabeled", strict: false, forTraining: true));
        Assert.Contains("2 file(s) are images in a format this tool does not read (.tiff)", none.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void HiddenFoldersAndFilesAreNotClassesOrImagesAndTheRunSaysSo()
    {
        // What Jupyter and macOS leave beside data: a checkpoint folder would be a class of its own, a dot-file an image.
        string root = Folder();
        Directory.CreateDirectory(Path.Combine(root, ".ipynb_checkpoints"));
        File.Copy(Cifar("cat", 5)[4], Path.Combine(root, ".ipynb_checkpoints", "x-checkpoint.jpg"));
        Directory.CreateDirectory(Path.Combine(root, "__MACOSX", "cat"));
        File.WriteAllBytes(Path.Combine(root, "__MACOSX", "cat", "._a.jpg"), [0, 5, 22, 7]);
        File.Copy(Cifar("ship", 5)[4], Path.Combine(root, "cat", ".copy.jpg"));
        Directory.CreateDirectory(Path.Combine(root, "ship", ".thumbs"));
        File.Copy(Cifar("ship", 6)[5], Path.Combine(root, "ship", ".thumbs", "t.jpg"));

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true);
        Assert.Equal(8, data.Count);
        Assert.Equal(["cat", "ship"], data.Labels.Distinct().Order(StringComparer.Ordinal));
        Assert.Empty(data.EmptyClassFolders);
        Assert.Equal([".ipynb_checkpoints/", "__MACOSX/", "cat/.copy.jpg", "ship/.thumbs/"], data.HiddenEntries);
        string note = Assert.Single(MlNetSsl.Cli.Run.TrainingRun.ImageFolderNotes(data, data, data.Subset([])));
        Assert.StartsWith("Left out 4 hidden folder(s) and image(s)", note, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AnImageWhosePictureIsOnlyInItsTransparencyIsNamedAsBlankToTheModel()
    {
        // Black ink on a transparent background (how glyphs, signatures and icons are often saved): dropping alpha, as the
        // model does, leaves a black square. The same picture in its colours, translucent or not, reads.
        string root = Folder();
        using var source = SKBitmap.Decode(Cifar("cat", 5)[4]);
        void Write(string name, Func<SKColor, SKColor> pixel)
        {
            using var bitmap = new SKBitmap(new SKImageInfo(source.Width, source.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            for (int y = 0; y < source.Height; y++)
                for (int x = 0; x < source.Width; x++) bitmap.SetPixel(x, y, pixel(source.GetPixel(x, y)));
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(root, "cat", name), png.ToArray());
        }
        static byte Grey(SKColor c) => (byte)((c.Red + c.Green + c.Blue) / 3);
        Write("ink.png", c => new SKColor(0, 0, 0, (byte)(255 - Grey(c))));
        Write("translucent.png", c => c.WithAlpha((byte)(255 - Grey(c))));
        Write("opaque.png", c => c);

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true);
        Assert.Equal(11, data.Count);
        Assert.Equal(["cat/ink.png"], data.PictureInAlpha);
        string note = Assert.Single(MlNetSsl.Cli.Run.TrainingRun.ImageFolderNotes(data, data, data.Subset([])));
        Assert.StartsWith("1 of the 11 image(s) hold their picture only in their transparency", note, StringComparison.Ordinal);
        Assert.Contains("cat/ink.png", note, StringComparison.Ordinal);
        Assert.DoesNotContain("translucent", note, StringComparison.Ordinal);

        // A folder to predict says the same; one without such images says nothing.
        TrainingData toPredict = ImageFolder.Load(new MLContext(0), Path.Combine(root, "cat"), "unlabeled", strict: false, forTraining: false);
        Assert.Equal(["ink.png"], toPredict.PictureInAlpha);
        Assert.Null(MlNetSsl.Cli.Run.TrainingRun.PictureInAlphaNote(ImageFolder.Load(new MLContext(0), Path.Combine(root, "ship"), "unlabeled", strict: false, forTraining: false)));
    }

    [SkippableFact]
    public void TheLookForPicturesInTransparencyStopsAfterAHundredOrdinaryTranslucentImages()
    {
        // Each look decodes the image whole (46 ms for a 1600x1200 RGBA PNG), so a folder of ordinary translucent images
        // is looked at only until AlphaImagesChecked of them showed their picture in their colours.
        string root = Path.Combine(_work, "icons");
        void Write(string cls, string name, bool inkOnly)
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            using var bitmap = new SKBitmap(new SKImageInfo(8, 8, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    bitmap.SetPixel(x, y, inkOnly ? new SKColor(0, 0, 0, (byte)(x * 32)) : new SKColor((byte)(y * 32), 40, 200, (byte)(x * 32)));
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(root, cls, name), png.ToArray());
        }
        for (int i = 0; i < ImageFolder.AlphaImagesChecked; i++) Write("a", $"{i:D3}.png", inkOnly: false);
        Write("b", "ink.png", inkOnly: true);
        Assert.Empty(ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true).PictureInAlpha);
        // One fewer ordinary image, and the ink image is still looked at.
        File.Delete(Path.Combine(root, "a", "000.png"));
        Assert.Equal(["b/ink.png"], ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true).PictureInAlpha);
    }

    [SkippableFact]
    public void ATruncatedImageIsSkippedAsDamagedAndStrictAndPredictRefuseIt()
    {
        // An interrupted copy: the header is whole, so the decoder alone would fill the missing rows with grey.
        string root = Folder();
        string whole = Cifar("cat", 5)[4];
        byte[] bytes = File.ReadAllBytes(whole);
        string truncated = Path.Combine(root, "cat", "half.jpg");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 4 / 5)]);

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Equal(8, data.Count);
        Assert.Contains(data.Skipped, s => s.StartsWith("cat/half.jpg: a truncated image", StringComparison.Ordinal));
        var strict = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true));
        Assert.Contains("half.jpg: a truncated image", strict.Message, StringComparison.Ordinal);
        var single = Assert.Throws<CliException>(() => ImageFolder.LoadFile(new MLContext(0), truncated));
        Assert.Contains("a truncated image", single.Message, StringComparison.Ordinal);
        // Cut within its header (300 bytes), the decoder cannot open it at all: the message still says what to do.
        string stub = Path.Combine(root, "stub.jpg");
        File.WriteAllBytes(stub, bytes[..300]);
        var unreadable = Assert.Throws<CliException>(() => ImageFolder.LoadFile(new MLContext(0), stub));
        Assert.EndsWith("stub.jpg: not a readable image (cut short or not a JPEG, PNG, BMP, GIF or WEBP file); replace it with a whole copy, or convert it to PNG or JPEG.",
            unreadable.Message, StringComparison.Ordinal);
        // The whole file still reads.
        Assert.Single(ImageFolder.LoadFile(new MLContext(0), whole).Labels);
    }

    [SkippableFact]
    public void IdenticalFilesUnderTwoClassesAndTestImagesThatAreTrainingImagesAreNamed()
    {
        string root = Folder();
        string shared = Cifar("cat", 1)[0];
        File.Copy(shared, Path.Combine(root, "ship", "also-a-cat.jpg"));
        TrainingData train = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);

        string testRoot = Path.Combine(_work, "test");
        Directory.CreateDirectory(Path.Combine(testRoot, "cat"));
        Directory.CreateDirectory(Path.Combine(testRoot, "ship"));
        File.Copy(shared, Path.Combine(testRoot, "cat", "seen.jpg"));
        File.Copy(Cifar("cat", 6)[5], Path.Combine(testRoot, "cat", "new.jpg"));
        File.Copy(Cifar("ship", 6)[5], Path.Combine(testRoot, "ship", "new.jpg"));
        TrainingData test = ImageFolder.Load(new MLContext(0), testRoot, "unlabeled", strict: false, forTraining: false);

        string[] notes = [.. MlNetSsl.Cli.Run.TrainingRun.ImageFolderNotes(train, train, test)];
        Assert.Equal(2, notes.Length);
        Assert.StartsWith("1 image(s) are in two or more class folders as identical files", notes[0], StringComparison.Ordinal);
        Assert.Contains("ship/also-a-cat.jpg", notes[0], StringComparison.Ordinal);
        Assert.StartsWith("1 of the 3 labeled test image(s) are identical to training images (cat/seen.jpg)", notes[1], StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AWholeFileIsToldFromACutOneByItsEnd()
    {
        byte[] jpeg = File.ReadAllBytes(Cifar("cat", 1)[0]);
        Assert.True(ImageFolder.EndsWhole(jpeg));
        Assert.False(ImageFolder.EndsWhole(jpeg[..(jpeg.Length * 4 / 5)]));
        string png = Path.Combine(_work, "x.png");
        MlNetSsl.Tests.MlNet.ImageFiles.Write(png, 16, 16, (x, y) => ((byte)x, (byte)y, 0, 255));
        byte[] pngBytes = File.ReadAllBytes(png);
        Assert.True(ImageFolder.EndsWhole(pngBytes));
        Assert.False(ImageFolder.EndsWhole(pngBytes[..(pngBytes.Length - 12)]));
    }

    [SkippableFact]
    public void TheImbalanceNoteNamesBothClassesUnlessTheMetricWeighsThem()
    {
        var counts = new Dictionary<string, int> { ["common"] = 300, ["rare"] = 20 };
        string? note = MlNetSsl.Cli.Run.TrainingRun.ImbalanceNote(counts, "accuracy");
        Assert.NotNull(note);
        Assert.StartsWith("Classes are imbalanced: 'common' has 300 labeled rows, 'rare' 20.", note, StringComparison.Ordinal);
        Assert.Null(MlNetSsl.Cli.Run.TrainingRun.ImbalanceNote(counts, "macro-accuracy"));
        Assert.NotNull(MlNetSsl.Cli.Run.TrainingRun.ImbalanceNote(counts, "log-loss"));
        Assert.Null(MlNetSsl.Cli.Run.TrainingRun.ImbalanceNote(new Dictionary<string, int> { ["a"] = 50, ["b"] = 20 }, "accuracy"));
    }

    [SkippableFact]
    public void ReportPicturesOfARotatedPhotoAreTurnedAsTheModelReadsIt()
    {
        // Stored 16 wide and 24 high with orientation 6 (shown a quarter turn clockwise): the stored bottom-left quarter
        // is shown top-left, in a picture 24 x 16.
        string path = Path.Combine(_work, "turned.jpg");
        MlNetSsl.Tests.MlNet.ImageFiles.WriteJpegWithOrientation(path, 16, 24,
            (x, y) => (0, 0, (byte)(x < 8 && y >= 12 ? 230 : 20)), orientation: 6);
        using var shown = ImageOrientation.DecodeShown(path, (w, h) => (w, h));
        Assert.NotNull(shown);
        Assert.Equal((24, 16), (shown.Width, shown.Height));
        Assert.True(shown.GetPixel(2, 2).Blue > 150, "blue at the top-left as shown");
        Assert.True(shown.GetPixel(21, 13).Blue < 90, "not blue at the bottom-right as shown");
        using var half = ImageOrientation.DecodeShown(path, (w, h) => (w / 2, h / 2));
        Assert.Equal((12, 8), (half!.Width, half.Height));
    }

    [SkippableTheory]
    [MemberData(nameof(MlNetSsl.Tests.MlNet.ImagePixelsTests.Orientations), MemberType = typeof(MlNetSsl.Tests.MlNet.ImagePixelsTests))]
    public void ReportPicturesTurnEveryOrientationAsTheStageReadsIt(int orientation)
    {
        // The pictures the library's tests check the stage against (Pillow's exif_transpose semantics).
        var (width, height, pixel) = MlNetSsl.Tests.MlNet.ImagePixelsTests.Stored(orientation);
        string path = Path.Combine(_work, $"o{orientation}.jpg");
        MlNetSsl.Tests.MlNet.ImageFiles.WriteJpegWithOrientation(path, width, height, pixel, orientation);
        using var shown = ImageOrientation.DecodeShown(path, (w, h) => (w, h));
        Assert.Equal((MlNetSsl.Tests.MlNet.ImagePixelsTests.Width, MlNetSsl.Tests.MlNet.ImagePixelsTests.Height), (shown!.Width, shown.Height));
        double difference = 0;
        for (int y = 0; y < shown.Height; y++)
            for (int x = 0; x < shown.Width; x++)
            {
                var (r, g, b) = MlNetSsl.Tests.MlNet.ImagePixelsTests.Shown(x, y);
                SKColor c = shown.GetPixel(x, y);
                difference += Math.Abs(c.Red - r) + Math.Abs(c.Green - g) + Math.Abs(c.Blue - b);
            }
        Assert.InRange(difference / (3.0 * shown.Width * shown.Height), 0, 6);
    }

    /// <summary>
    /// A zero-byte file (an interrupted copy or download) is named as empty, not as an image "cut short or not a JPEG,
    /// PNG...", which sent a user looking for a damaged or mislabelled image: skipped and listed, refused by --strict
    /// and by predict on the file.
    /// </summary>
    [SkippableFact]
    public void AnEmptyFileIsSkippedAndNamedAsEmpty()
    {
        string root = Folder();
        string empty = Path.Combine(root, "cat", "empty.jpg");
        File.WriteAllBytes(empty, []);

        TrainingData data = ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: false, forTraining: true);
        Assert.Contains(data.Skipped, s => s == "cat/empty.jpg: an empty file (0 bytes)");
        var strict = Assert.Throws<CliException>(() => ImageFolder.Load(new MLContext(0), root, "unlabeled", strict: true, forTraining: true));
        Assert.Contains("empty.jpg: an empty file (0 bytes)", strict.Message, StringComparison.Ordinal);
        var single = Assert.Throws<CliException>(() => ImageFolder.LoadFile(new MLContext(0), empty));
        Assert.EndsWith("empty.jpg: an empty file (0 bytes); replace it with a whole copy of the image.", single.Message, StringComparison.Ordinal);
    }
}
