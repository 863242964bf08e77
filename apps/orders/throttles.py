from apps.common.throttles import PostsPerAddress, PostsPerUser


class OrderPlacementsPerCustomer(PostsPerUser):
    scope = "orders_user"


class OrderPlacementsPerAddress(PostsPerAddress):
    scope = "orders_ip"
