// mlnet-ssl: the Model Builder-style command line of MlNetSsl. Commands are in Commands/, data loading in Data/,
// training runs in Run/; exit codes 0 done, 1 failed, 2 usage error, 130 cancelled.
return await MlNetSsl.Cli.Commands.CliApp.RunAsync(args).ConfigureAwait(false);
