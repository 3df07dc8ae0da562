// mlnet-ssl: the Model Builder-style command line of MlNetSsl. Commands are in Commands/, data loading in Data/,
// training runs in Run/; exit codes 0 done, 1 failed, 2 usage error, 130 cancelled.
// Every number the tool writes (console, report, files) reads the same on every machine: under a German locale the
// counts written without a culture read "1.189 training rows" beside "1,372 rows". .NET's own messages keep the user's
// language (CurrentUICulture).
System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
return await MlNetSsl.Cli.Commands.CliApp.RunAsync(args).ConfigureAwait(false);
