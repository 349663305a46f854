/// DDPM of docs/zoo.md: a U-Net predicting the noise mixed into an image at one of
/// 1000 noise levels, trained on the mean squared error of that prediction.
enum DDPMZoo {
    static let schedule = try! DiffusionSchedule(steps: 1000, betaStart: 1e-4, betaEnd: 0.02)

    /// GroupNorm(8)-silu-conv, the time embedding added per channel, GroupNorm(8)-silu-conv.
    static func resBody(_ x: Tensor, _ time: Tensor, _ channels: Int, name: String) throws -> Tensor {
        var h = try x.groupNorm(groups: 8, name: name + ".norm1").silu().conv2d(channels, kernel: 3, padding: 1, name: name + ".conv1")
        h = try h + time.dense(channels, name: name + ".time").reshape([-1, channels, 1, 1])
        return try h.groupNorm(groups: 8, name: name + ".norm2").silu().conv2d(channels, kernel: 3, padding: 1, name: name + ".conv2")
    }

    /// A residual block; a 1x1 conv maps the skip when the channel count changes.
    static func res(_ x: Tensor, _ time: Tensor, _ channels: Int, name: String) throws -> Tensor {
        let body = try resBody(x, time, channels, name: name)
        return try body + (x.shape[1] == channels ? x : x.conv2d(channels, kernel: 1, name: name + ".skip"))
    }

    /// One head over the 7 x 7 positions of 64 channels, added back to its input.
    static func attention(_ x: Tensor, name: String) throws -> Tensor {
        let h = try x.groupNorm(groups: 8, name: name + ".norm")
        let q = try h.conv2d(64, kernel: 1, name: name + ".q").reshape([-1, 64, 49]).transposed()
        let k = try h.conv2d(64, kernel: 1, name: name + ".k").reshape([-1, 64, 49])
        let v = try h.conv2d(64, kernel: 1, name: name + ".v").reshape([-1, 64, 49]).transposed()
        let weights = try (q.matmul(k) / 8).softmax(axes: [2])
        return try x + weights.matmul(v).transposed().reshape([-1, 64, 7, 7]).conv2d(64, kernel: 1, name: name + ".out")
    }

    /// The noise in x_t at integer time steps t (n).
    static func eps(_ x: Tensor, _ t: Tensor) throws -> Tensor {
        let time = try t.sinusoidalEmbedding(dim: 64).dense(128, name: "time1").silu().dense(128, name: "time2").silu()
        let s1 = try res(x.conv2d(32, kernel: 3, padding: 1, name: "conv_in"), time, 32, name: "res1")
        let s2 = try res(s1.conv2d(64, kernel: 3, stride: 2, padding: 1, name: "down1"), time, 64, name: "res2")
        var h = try res(s2.conv2d(64, kernel: 3, stride: 2, padding: 1, name: "down2"), time, 64, name: "mid1")
        h = try res(attention(h, name: "attn"), time, 64, name: "mid2")
        h = try res(concat([h.upsampled(by: 2).conv2d(64, kernel: 3, padding: 1, name: "up1"), s2], axis: 1), time, 64, name: "res3")
        h = try res(concat([h.upsampled(by: 2).conv2d(32, kernel: 3, padding: 1, name: "up2"), s1], axis: 1), time, 32, name: "res4")
        return try h.groupNorm(groups: 8, name: "norm_out").silu().conv2d(1, kernel: 3, padding: 1, name: "conv_out")
    }

    static let functions = [ModelFunction(name: "eps", parameters: ["x", "t"]) { _, a, _ in try eps(a[0], a[1]) }]

    /// The loss is the mean squared error of the predicted noise at a time step uniform
    /// in 1...T; the test metric `loss` is that error per image.
    static func build(_ g: Graph, _ b: Int, _ purpose: BuildPurpose) throws -> ModelParts {
        let x = try g.input("x", [b, 1, 28, 28])
        let t = try (g.randomUniform([b]) * Float(schedule.steps)).floor() + 1
        let noise = try g.randomNormal([b, 1, 28, 28])
        let alphaBar = try t.alphaBar(schedule).reshape([b, 1, 1, 1])
        let squaredError = try (eps(alphaBar.sqrt() * x + (1 - alphaBar).sqrt() * noise, t) - noise).square()
        let loss = try squaredError.mean()
        let metrics = purpose == .evaluation ? [EvaluationGraph.Metric(name: "loss", value: try squaredError.mean(axes: [1, 2, 3]))] : []
        return ModelParts(images: x, labels: nil,
                          phases: [Phase([Objective(name: "loss", loss: loss, parameters: g.parameters, rule: .adam(learningRate: 2e-4))])],
                          metrics: metrics)
    }

    /// The noise predictor on a canvas named like the images and a time-step input, for the sampler.
    static func sampler(_ g: Graph, _ n: Int) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        let canvas = try g.input("x", [n, 1, 28, 28])
        let time = try g.input(SampleGraph.Denoiser.timeInputName, [n])
        return (nil, .diffusion(SampleGraph.Denoiser(canvas: canvas, time: time, noise: try eps(canvas, time), schedule: schedule)))
    }
}
