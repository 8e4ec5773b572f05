using PeerCompute.Core.Identity;

namespace PeerCompute.Net.Tests.Support;

/// <summary>Test vectors, bytes captured against js-libp2p (listed in docs/ARCHITECTURE.md, "Test vectors").</summary>
internal static class Vectors
{
    public const string FirstPrivateKey = "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    public const string FirstPeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    public const string SeedOnesPeerId = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

    public const string PayloadR = "0a24080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c1240246d43e960be67ad57094023dc4575126f441c320b9ddc27b2dda580e884891e3892478d03ebccbcfb5f84c603e1e6dded40e75e134ba8843bd09082a3df6108220e120c2f79616d75782f312e302e30";
    public const string PayloadI = "0a24080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1240a32c5aaa2b9fd56ceb93f81f7dfaef0e32c2a504eee17d4dc53911da77267942bdf29f2336f2e33b0c45d8c687fec4015321e8d984e8eb71a369f6352664960d220e120c2f79616d75782f312e302e30";
    public const string Msg1 = "7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14";
    public const string Msg2 = "ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6bfcadb15080d9fd0434a18565751d3b6022bec571f33b6212486a1bffa54d1a1ee7712455070d4e3666e35c1eca6c109ed4e7d1b5c88bd8eb8a9245e61a6604c138b4d208576223707d63bcf2ac4d5e48d9883a68c92fa526a3d90de907b07855d34e52b018eb4c8c0fee3557caef2cfcd6ccde5043a27cef6350653797187a122b64f0a588eacdc2851498999fb8d2a96aa22509fca371dbacf2365a8c57d730cbff4ff1920ce3c725ffd25e5d8e564bf2b6042945072d5e";
    public const string Msg3 = "a7ea7dd47dddbcfcd736b91b174c6107b2ad26c161965a119a7b644e0c6b3d067256a8fead23b8c73c21a399fc8cba0e7b9e4620d57d286e3be17bd0862e48168b5d863f1ff2a7566343a1193a78b1846fdc5f27e59cd95bb1594007e59d42e50ec4996691c340363e4899a9bf61cc9144c30497343c887bc558ce89383924ae0f820cc54bd0fb4c78548f2a4a1121908ea4a1c534e9c4c31f922b4ac4def4088ea98448d7f9ec92153771f7549a5f2a45a5632b91cff0b6";
    public const string FinalHash = "853953c0b37e38b9da3d3ef49a4897de7177876639dae7e67d4292002ff483cc";
    public const string K1 = "87545187bdfc0130ee12184489f9d74da5b391ee6e64846190bc39165d273c7d";
    public const string K2 = "31afe41fee9c650f0b5985013999d47a239b9c95235f7b3a1bd3e2328d76884e";

    public static PeerIdentity FirstIdentity() =>
        PeerIdentity.TryFromPrivateKeyProtobuf(Hex.Bytes(FirstPrivateKey), out var id) ? id : throw new InvalidOperationException();

    public static PeerIdentity SeedOnesIdentity() => PeerIdentity.FromSeed(Filled(0x01));

    public static byte[] Filled(byte value) => Enumerable.Repeat(value, 32).ToArray();
}
