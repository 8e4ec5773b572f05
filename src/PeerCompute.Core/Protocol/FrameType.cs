namespace PeerCompute.Core.Protocol;

/// <summary>The first byte of every frame. Values are part of the wire format: never renumber.</summary>
public enum FrameType : byte
{
    DeployRequest = 1,
    DeployResponse = 2,
    StopRequest = 3,
    StopResponse = 4,
    LogEntry = 5,
    StatusRequest = 6,
    StatusResponse = 7,
    LogsRequest = 8,
    Error = 9,
    DeployProgress = 10,
    RequestSignature = 11,
    VolumeRequest = 30,
    VolumeResponse = 31,
    /// <summary>Adds, removes or lists a deployment's custom domains; answered with a StatusResponse of that deployment.</summary>
    DomainRequest = 32,
}

public static class FrameTypes
{
    // Built from the enum itself, so a new frame type is known to the decoder the moment it is declared.
    private static readonly bool[] s_defined = BuildDefined();

    public static bool IsDefined(byte value) => s_defined[value];

    private static bool[] BuildDefined()
    {
        var defined = new bool[256];
        foreach (var type in Enum.GetValues<FrameType>())
            defined[(byte)type] = true;
        return defined;
    }

    public static bool IsRequest(FrameType type) =>
        type is FrameType.DeployRequest or FrameType.StopRequest or FrameType.StatusRequest or FrameType.LogsRequest or FrameType.VolumeRequest or FrameType.DomainRequest;
}
