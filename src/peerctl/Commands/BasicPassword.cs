using PeerCompute.Cli;
using PeerCompute.Core.Access;

namespace PeerCompute.Ctl.Commands;

/// <summary>
/// The password of <c>--access basic</c>, never from the command line (where other users and the shell history see it):
/// $PEERCTL_BASIC_PASSWORD, else the first line of standard input when it is not a terminal, else a prompt without echo.
/// </summary>
internal static class BasicPassword
{
    public const string EnvironmentVariable = "PEERCTL_BASIC_PASSWORD";

    public static string Read()
    {
        string? password = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(password))
            password = Console.IsInputRedirected ? Console.In.ReadLine() : Prompt();
        if (string.IsNullOrEmpty(password))
            throw new UsageException($"--access basic needs a password: set ${EnvironmentVariable}, pipe it on standard input, or type it when asked.");
        if (password.Length > PasswordHash.MaxPasswordLength)
            throw new UsageException($"the password is longer than {PasswordHash.MaxPasswordLength} characters.");
        return password;
    }

    private static string Prompt()
    {
        Console.Error.Write("Password for the deployment's URL: ");
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
                break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (typed.Length > 0)
                    typed.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
                typed.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return typed.ToString();
    }
}
