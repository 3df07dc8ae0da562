using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MlNetSsl.Tests.Cli;

/// <summary>What a page did while it loaded in the browser.</summary>
/// <param name="Requests">Every URL the page asked for (its own document included), from the Network domain.</param>
/// <param name="ConsoleErrors">console.error/assert calls, uncaught exceptions and browser log errors (blocked loads, CSP violations).</param>
/// <param name="Evaluated">The value of the expression passed to <see cref="HeadlessChromium.LoadAsync"/>, as JSON.</param>
/// <param name="ScreenshotPng">A PNG of the page.</param>
internal sealed record PageVisit(IReadOnlyList<string> Requests, IReadOnlyList<string> ConsoleErrors, JsonNode? Evaluated, byte[] ScreenshotPng);

/// <summary>
/// Debian's chromium, headless, driven through the DevTools protocol over a WebSocket (BCL only): it loads a page,
/// records every network request and console error of that page, evaluates an expression in it and takes a
/// screenshot. The command-line switches alone (--screenshot, --dump-dom) cannot say whether a page made a request.
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _pending = new();
    private readonly ConcurrentQueue<JsonObject> _events = new();
    private readonly StringBuilder _stderr = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiveLoop;
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>The browser: MLNETSSL_CHROMIUM, else chromium, chromium-browser or google-chrome on the PATH; null when none.</summary>
    public static string? FindExecutable()
    {
        string? configured = Environment.GetEnvironmentVariable("MLNETSSL_CHROMIUM");
        if (!string.IsNullOrEmpty(configured)) return File.Exists(configured) ? configured : null;
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => folders.Select(folder => Path.Combine(folder, name)))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>Starts the browser and connects to it.</summary>
    public static async Task<HeadlessChromium> StartAsync(string executable, TimeSpan timeout)
    {
        string profile = Path.Combine(Path.GetTempPath(), "mlnetssl-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0", $"--user-data-dir={profile}",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars", "about:blank",
        })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        var browser = new HeadlessChromium(process, profile);
        try
        {
            var endpoint = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (browser._stderr) browser._stderr.AppendLine(e.Data);
                var match = Regex.Match(e.Data, @"DevTools listening on (ws://\S+)");
                if (match.Success) endpoint.TrySetResult(match.Groups[1].Value);
            };
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            using var cts = new CancellationTokenSource(timeout);
            string url = await endpoint.Task.WaitAsync(cts.Token).ConfigureAwait(false);
            await browser._socket.ConnectAsync(new Uri(url), cts.Token).ConfigureAwait(false);
            browser._receiveLoop = Task.Run(browser.ReceiveLoop);
            return browser;
        }
        catch (OperationCanceledException)
        {
            string log = browser.StandardError;
            await browser.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"{executable} did not open its DevTools endpoint within {timeout.TotalSeconds:0} s. Its output:\n{log}");
        }
    }

    /// <summary>What the browser wrote to standard error so far (for failure messages).</summary>
    public string StandardError
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>
    /// Opens <paramref name="url"/> in a fresh tab of <paramref name="width"/> by <paramref name="height"/> pixels, waits
    /// for its load event, evaluates <paramref name="expression"/> (its value must be JSON-serializable) and screenshots
    /// the viewport, or the whole page when <paramref name="fullPage"/>.
    /// </summary>
    public async Task<PageVisit> LoadAsync(string url, string expression, int width, int height, bool fullPage, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var target = await Send("Target.createTarget", new JsonObject { ["url"] = "about:blank" }, null, cts.Token);
        string targetId = (string)target["targetId"]!;
        var attached = await Send("Target.attachToTarget", new JsonObject { ["targetId"] = targetId, ["flatten"] = true }, null, cts.Token);
        string session = (string)attached["sessionId"]!;
        foreach (string domain in new[] { "Page", "Network", "Runtime", "Log" })
            await Send(domain + ".enable", new JsonObject(), session, cts.Token);
        await Send("Emulation.setDeviceMetricsOverride",
            new JsonObject { ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false }, session, cts.Token);

        await Send("Page.navigate", new JsonObject { ["url"] = url }, session, cts.Token);
        await WaitForEvent(session, "Page.loadEventFired", cts.Token);
        var evaluated = await Send("Runtime.evaluate",
            new JsonObject { ["expression"] = $"JSON.stringify({expression})", ["returnByValue"] = true }, session, cts.Token);
        var resultValue = evaluated["result"]?["value"];
        JsonNode? value = resultValue is null ? null : JsonNode.Parse((string)resultValue!);

        var screenshotParams = new JsonObject { ["format"] = "png" };
        if (fullPage)
        {
            var size = await Send("Runtime.evaluate",
                new JsonObject { ["expression"] = "document.documentElement.scrollHeight", ["returnByValue"] = true }, session, cts.Token);
            int h = (int)size["result"]!["value"]!;
            screenshotParams["captureBeyondViewport"] = true;
            screenshotParams["clip"] = new JsonObject { ["x"] = 0, ["y"] = 0, ["width"] = width, ["height"] = h, ["scale"] = 1 };
        }
        var shot = await Send("Page.captureScreenshot", screenshotParams, session, cts.Token);
        byte[] png = Convert.FromBase64String((string)shot["data"]!);
        await Send("Target.closeTarget", new JsonObject { ["targetId"] = targetId }, null, cts.Token);

        var requests = new List<string>();
        var errors = new List<string>();
        foreach (var e in _events.Where(e => (string?)e["sessionId"] == session))
        {
            var p = e["params"]!;
            switch ((string?)e["method"])
            {
                case "Network.requestWillBeSent":
                    requests.Add((string)p["request"]!["url"]!);
                    break;
                case "Runtime.consoleAPICalled" when Str(p["type"]) is "error" or "assert":
                    errors.Add("console." + Str(p["type"]) + ": " + string.Join(" ", p["args"]!.AsArray().Select(a => Str(a?["value"]) ?? Str(a?["description"]))));
                    break;
                case "Runtime.exceptionThrown":
                    errors.Add("exception: " + (Str(p["exceptionDetails"]?["exception"]?["description"]) ?? Str(p["exceptionDetails"]?["text"])));
                    break;
                case "Log.entryAdded" when Str(p["entry"]?["level"]) == "error":
                    errors.Add("log: " + Str(p["entry"]?["text"]) + " " + Str(p["entry"]?["url"]));
                    break;
            }
        }
        return new PageVisit(requests, errors, value, png);
    }

    private static string? Str(JsonNode? node) =>
        node is null ? null : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();

    private async Task<JsonObject> Send(string method, JsonObject parameters, string? session, CancellationToken ct)
    {
        int id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        if (session is not null) message["sessionId"] = session;
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, ct);
        var response = await reply.Task.WaitAsync(ct);
        if (response["error"] is JsonNode error) throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
        return response["result"]?.AsObject() ?? new JsonObject();
    }

    private async Task WaitForEvent(string session, string method, CancellationToken ct)
    {
        while (!_events.Any(e => (string?)e["sessionId"] == session && (string?)e["method"] == method))
            await Task.Delay(25, ct);
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var part = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (part.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage) continue;
                var json = JsonNode.Parse(message.ToArray())!.AsObject();
                message.SetLength(0);
                if (json["id"] is JsonNode id && _pending.TryRemove((int)id, out var reply)) reply.TrySetResult(json);
                else _events.Enqueue(json);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or JsonException)
        {
        }
        foreach (var reply in _pending.Values) reply.TrySetException(new InvalidOperationException("The browser closed the connection.\n" + StandardError));
    }

    /// <summary>Closes the browser (politely, then by force), and removes its profile.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                await Send("Browser.close", new JsonObject(), null, cts.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or InvalidOperationException)
        {
        }
        if (!_process.WaitForExit(5000)) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _stop.Cancel();
        if (_receiveLoop is not null) await _receiveLoop.ConfigureAwait(false);
        _socket.Dispose();
        _process.Dispose();
        _stop.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A helper process may still hold a file for a moment; the temp folder is cleaned eventually.
        }
    }
}
