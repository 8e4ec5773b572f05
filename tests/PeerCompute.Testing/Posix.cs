using System.Diagnostics;
using System.Globalization;

namespace PeerCompute.Testing;

/// <summary>Signals, sent with kill(1) as an operator would.</summary>
public static class Posix
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public static void Kill(int pid, int signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal.ToString(CultureInfo.InvariantCulture), pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }
}
