// The mlnet-ssl command-line tool. Its commands arrive with the Model Builder-style issue; until then it reports
// its version and the TorchSharp backend it can see, which is also a quick check of a machine's set-up.
using System.Reflection;

var version = typeof(MlNetSsl.SslEnvironment).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
Console.WriteLine($"mlnet-ssl {version}");
Console.WriteLine(MlNetSsl.SslEnvironment.Describe());
return 0;
