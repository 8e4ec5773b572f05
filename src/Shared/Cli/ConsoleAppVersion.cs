namespace ConsoleAppFramework;

// The framework generates DefaultVersion (the build's Version) as a private constant of this partial class.
internal static partial class ConsoleApp
{
    internal static string BuildVersion => DefaultVersion;
}
