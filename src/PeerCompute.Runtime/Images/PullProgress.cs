namespace PeerCompute.Runtime.Images;

/// <summary>One step of an image pull as the engine reports it: per layer, with byte counts while downloading.</summary>
public readonly record struct PullProgress(string Image, string? Layer, string Status, long? CurrentBytes, long? TotalBytes);
