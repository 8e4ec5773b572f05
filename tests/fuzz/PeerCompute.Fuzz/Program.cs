using PeerCompute.Fuzz;

// PeerCompute.Fuzz TARGET                  run under afl-fuzz (SharpFuzz's fork server, input from AFL)
// PeerCompute.Fuzz replay TARGET PATH...   run files or folders of inputs once, in-process; exit 1 on a violation
// PeerCompute.Fuzz seed DIR                write every target's generated seeds to DIR/<target>/
// PeerCompute.Fuzz list                    the targets
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: PeerCompute.Fuzz TARGET | replay TARGET PATH... | seed DIR | list");
    return 2;
}
switch (args[0])
{
    case "list":
        foreach (var t in FuzzTargets.All)
            Console.WriteLine($"{t.Name,-20} {t.Description}");
        return 0;
    case "seed" when args.Length == 2:
        foreach (var t in FuzzTargets.All)
        {
            string dir = Path.Combine(args[1], t.Name);
            Directory.CreateDirectory(dir);
            foreach (var (name, bytes) in t.Seeds())
                File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
        return 0;
    case "replay" when args.Length >= 3:
    {
        var target = FuzzTargets.Find(args[1]);
        if (target is null)
        {
            Console.Error.WriteLine($"unknown target '{args[1]}'");
            return 2;
        }
        int failed = 0, total = 0;
        foreach (string path in args[2..].SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal))
        {
            total++;
            try
            {
                byte[] bytes = File.ReadAllBytes(path);
                target.Run(bytes.AsSpan(0, Math.Min(bytes.Length, FuzzTarget.MaxInputLength)));
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"FAIL {path}: {e}");
            }
        }
        Console.WriteLine($"{target.Name}: {total - failed} of {total} inputs kept the contract");
        return failed == 0 ? 0 : 1;
    }
    default:
    {
        var target = FuzzTargets.Find(args[0]);
        if (target is null)
        {
            Console.Error.WriteLine($"unknown target '{args[0]}'");
            return 2;
        }
        var buffer = new byte[FuzzTarget.MaxInputLength];
        SharpFuzz.Fuzzer.Run(stream =>
        {
            int length = 0, read;
            while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
                length += read;
            target.Run(buffer.AsSpan(0, length));
        });
        return 0;
    }
}
