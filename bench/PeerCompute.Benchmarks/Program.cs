using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/PeerCompute.Benchmarks -- --filter '*FrameCodec*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

public partial class Program;
